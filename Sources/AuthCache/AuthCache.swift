// AuthCache: the auth_http client and the SQLite cache.
