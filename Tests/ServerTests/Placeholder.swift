import Testing
@Test func ServerTestsBuilds() { #expect(true) }
