-- Attackers seen on two or more decoys, the most widespread first.
SELECT key AS ip,
       json_array_length(decoys) AS decoys_hit,
       attempts,
       decoys,
       strftime('%Y-%m-%dT%H:%M:%SZ', last_seen / 1000, 'unixepoch') AS last_seen
FROM attackers
WHERE json_array_length(decoys) >= 2
ORDER BY decoys_hit DESC, attempts DESC, ip
