-- The credentials tried by the most attackers, across every decoy.
SELECT c.value AS credential, count(*) AS attackers
FROM attackers a, json_each(a.credentials) c
GROUP BY c.value
ORDER BY attackers DESC, credential
LIMIT 10
