import Testing
@Test func AuthCacheTestsBuilds() { #expect(true) }
