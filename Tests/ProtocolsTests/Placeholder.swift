import Testing
@Test func ProtocolsTestsBuilds() { #expect(true) }
