import Testing
@Test func IntegrationTestsBuilds() { #expect(true) }
