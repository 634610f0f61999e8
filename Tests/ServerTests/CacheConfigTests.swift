import AuthCache
import Testing
@testable import Server

@Suite struct CacheConfigTests {
    static func cacheSettings(_ mailBody: String) throws -> AuthCacheSettings? {
        let text = "error_log stderr; mail { auth_http 127.0.0.1:9000/auth; \(mailBody) server { listen 127.0.0.1:1143; protocol imap; } }"
        let config = try #require(parsedConfig(text))
        let plan = try ConfigPlanner.plan(config, mainLog: ErrorLog.stderr(level: .emerg), mainTargets: []).get()
        return plan.listeners[0].settings.authCache
    }

    /// Without auth_cache, or with "auth_cache off", the cache is off and nothing opens SQLite.
    @Test func offByDefault() throws {
        #expect(try Self.cacheSettings("") == nil)
        #expect(try Self.cacheSettings("auth_cache off;") == nil)
    }

    /// Every cache and throttle directive reaches the cache settings; the path resolves against the prefix.
    @Test func directivesReachSettings() throws {
        let s = try #require(try Self.cacheSettings("""
            auth_cache cache/auth.db; auth_cache_ttl 10m; auth_cache_fail_ttl 2h;
            auth_cache_client_prefix 24 56; auth_throttle_failures 5; auth_throttle_window 5m;
            auth_throttle_ban 30s; auth_ledger_retention 7d;
            """))
        #expect(s.path == "/var/lib/postern/cache/auth.db")
        #expect(s.ttlSeconds == 600)
        #expect(s.clientPrefix == ClientPrefix(v4Bits: 24, v6Bits: 56))
        #expect(s.throttle.maxFailures == 5)
        #expect(s.throttle.windowSeconds == 300)
        #expect(s.throttle.banSeconds == 30)
        #expect(s.throttle.memorySeconds == 7200)
        #expect(s.ledgerRetentionSeconds == 7 * 86_400)
    }

    /// Defaults: 5m TTL, IPv4 /32 and IPv6 /64, 10 failures in 10m, a 1m first ban, 30 days of ledger.
    @Test func defaults() throws {
        let s = try #require(try Self.cacheSettings("auth_cache /tmp/x.db;"))
        #expect(s.ttlSeconds == 300)
        #expect(s.clientPrefix == ClientPrefix())
        #expect(s.throttle.maxFailures == 10 && s.throttle.windowSeconds == 600 && s.throttle.banSeconds == 60)
        #expect(s.ledgerRetentionSeconds == 30 * 86_400)
    }

    /// An out-of-range prefix is a config error; the new directives are not reported as unsupported.
    @Test func invalidPrefixAndImplemented() {
        let errors = configErrors("error_log stderr; mail { auth_http 127.0.0.1:9000/auth; auth_cache_client_prefix 33 64; "
            + "server { listen 127.0.0.1:1143; protocol imap; } }")
        #expect(errors.contains { $0.contains("auth_cache_client_prefix") })
        for name in ["auth_cache", "auth_throttle_failures", "auth_throttle_window", "auth_throttle_ban",
                     "auth_ledger_retention", "auth_cache_client_prefix", "auth_cache_ttl", "auth_cache_fail_ttl"] {
            #expect(implementedDirectives.contains(name))
        }
    }
}
