-- Config keys changed since a time (parameter 1: milliseconds since the epoch), oldest change first.
SELECT key,
       value,
       updated_by,
       strftime('%Y-%m-%dT%H:%M:%fZ', updated_at / 1000.0, 'unixepoch') AS updated
FROM config
WHERE updated_at > ?
ORDER BY updated_at, key
