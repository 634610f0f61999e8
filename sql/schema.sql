-- Postern auth cache: the one source of truth for the database layout.
-- scripts/gen-schema.sh embeds this file in the binary; a unit test checks
-- that the embedded copy matches.
--
-- Each "-- migration N" section runs once, in order, inside one transaction,
-- when the database's PRAGMA user_version is below N; Postern then sets
-- user_version to N. Never edit a released section: add a new one.
-- Times are Unix seconds (UTC); the views show them readable.

-- migration 1

-- A login the auth service accepted, answered from here until expires_at.
-- lookup_id and verifier are HMAC-SHA256 values under a secret key kept in a
-- separate file (PATH.key, 0600): the database alone neither tells whether
-- a password is right nor yields the backend password.
CREATE TABLE cached_logins (
    lookup_id BLOB PRIMARY KEY,          -- HMAC(key, protocol, login, network)
    salt BLOB NOT NULL,                  -- random per row
    verifier BLOB NOT NULL,              -- HMAC(key, salt, protocol, login, password, network)
    protocol TEXT NOT NULL,              -- imap, pop3, smtp
    login TEXT NOT NULL,                 -- as the client sent it, escaped for display
    network TEXT NOT NULL,               -- client network, e.g. 192.0.2.7/32, 2001:db8::/64
    backend_host TEXT NOT NULL,          -- Auth-Server
    backend_port INTEGER NOT NULL,       -- Auth-Port
    backend_user BLOB,                   -- Auth-User, NULL: the client's login
    backend_pass BLOB,                   -- Auth-Pass encrypted, NULL: the client's password
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    hits INTEGER NOT NULL DEFAULT 0,
    last_hit_at INTEGER
) WITHOUT ROWID;
CREATE INDEX cached_logins_expiry ON cached_logins(expires_at);

-- Failed logins counted per client network (kind 'address') and per login
-- (kind 'login') within a window, and the bans they earned.
CREATE TABLE auth_failures (
    kind TEXT NOT NULL CHECK (kind IN ('address', 'login')),
    subject TEXT NOT NULL,
    failures INTEGER NOT NULL,           -- within the current window
    window_start INTEGER NOT NULL,
    last_failure_at INTEGER NOT NULL,
    bans INTEGER NOT NULL DEFAULT 0,     -- bans so far; each doubles the next
    banned_until INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (kind, subject)
) WITHOUT ROWID;

-- Networks a login recently succeeded from: failures from elsewhere do not
-- lock the owner out.
CREATE TABLE login_networks (
    login TEXT NOT NULL,
    network TEXT NOT NULL,
    last_success_at INTEGER NOT NULL,
    PRIMARY KEY (login, network)
) WITHOUT ROWID;

-- One row per finished session.
CREATE TABLE sessions (
    id INTEGER PRIMARY KEY,
    started_at REAL NOT NULL,
    ended_at REAL NOT NULL,
    client_addr TEXT NOT NULL,
    client_port INTEGER,
    protocol TEXT NOT NULL,
    login TEXT,
    from_cache INTEGER NOT NULL DEFAULT 0,
    backend TEXT,
    tls_version TEXT,
    bytes_in INTEGER NOT NULL DEFAULT 0,  -- client to backend
    bytes_out INTEGER NOT NULL DEFAULT 0, -- backend to client
    outcome TEXT NOT NULL,                -- proxied, rejected, throttled, failed
    reason TEXT
);
CREATE INDEX sessions_ended ON sessions(ended_at);

CREATE VIEW live_logins AS
    SELECT protocol, login, network, backend_host || ':' || backend_port AS backend,
           datetime(created_at, 'unixepoch') AS cached_at,
           datetime(expires_at, 'unixepoch') AS expires,
           hits, datetime(last_hit_at, 'unixepoch') AS last_hit
    FROM cached_logins WHERE expires_at > strftime('%s', 'now')
    ORDER BY expires_at;

CREATE VIEW current_bans AS
    SELECT kind, subject, failures, bans,
           datetime(banned_until, 'unixepoch') AS banned_until,
           datetime(last_failure_at, 'unixepoch') AS last_failure
    FROM auth_failures WHERE banned_until > strftime('%s', 'now')
    ORDER BY banned_until DESC;

CREATE VIEW recent_failures AS
    SELECT kind, subject, failures,
           datetime(window_start, 'unixepoch') AS since,
           datetime(last_failure_at, 'unixepoch') AS last_failure, bans
    FROM auth_failures WHERE last_failure_at > strftime('%s', 'now') - 86400
    ORDER BY last_failure_at DESC;

CREATE VIEW recent_sessions AS
    SELECT id, datetime(started_at, 'unixepoch') AS started,
           round(ended_at - started_at, 3) AS seconds,
           client_addr, client_port, protocol, login,
           CASE from_cache WHEN 1 THEN 'yes' ELSE 'no' END AS from_cache,
           backend, tls_version, bytes_in, bytes_out, outcome, reason
    FROM sessions WHERE ended_at > strftime('%s', 'now') - 86400
    ORDER BY ended_at DESC;
