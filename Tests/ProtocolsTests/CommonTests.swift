import Protocols
import Testing

@Suite struct Base64Tests {
    static let vectors: [(String, String)] = [
        ("", ""), ("f", "Zg=="), ("fo", "Zm8="), ("foo", "Zm9v"),
        ("foob", "Zm9vYg=="), ("fooba", "Zm9vYmE="), ("foobar", "Zm9vYmFy"),
    ]

    /// Encoding matches the RFC 4648 §10 test vectors.
    @Test func encodesRFC4648Vectors() {
        for (plain, encoded) in Self.vectors {
            #expect(Base64.encodeString(bytes(plain)) == encoded)
        }
    }

    /// Decoding inverts the RFC 4648 §10 vectors.
    @Test func decodesRFC4648Vectors() {
        for (plain, encoded) in Self.vectors {
            #expect(Base64.decode(bytes(encoded)) == bytes(plain))
        }
    }

    /// Unpadded input is accepted, as nginx accepts it.
    @Test func acceptsMissingPadding() {
        #expect(Base64.decode(bytes("Zm9vYg")) == bytes("foob"))
        #expect(Base64.decode(bytes("Zm9vYmE")) == bytes("fooba"))
    }

    /// Bytes outside the alphabet, data after padding, bad lengths and non-zero spare bits are refused.
    @Test(arguments: ["Zm9v!", "Zm9=v", "Z", "Zm9vY", "Zg=", "Zg===", "Zh==", "Zm9v\r\n", "Zm 9v", "*"])
    func refusesInvalid(_ text: String) {
        #expect(Base64.decode(bytes(text)) == nil)
    }

    /// Every byte value survives an encode/decode round trip.
    @Test func roundTripsAllBytes() {
        let all = (0...255).map { UInt8($0) }
        for n in 0..<8 {
            let slice = Array(all.dropFirst(n))
            #expect(Base64.decode(Base64.encode(slice)) == slice)
        }
    }
}

@Suite struct HexTests {
    /// Hex encodes lower case and decodes either case.
    @Test func roundTrip() {
        #expect(Hex.encodeString([0x00, 0xab, 0xFF, 0x10]) == "00abff10")
        #expect(Hex.decode(bytes("00ABff10")) == [0x00, 0xab, 0xFF, 0x10])
        #expect(Hex.decode(bytes("abc")) == nil)
        #expect(Hex.decode(bytes("zz")) == nil)
    }
}

@Suite struct MD5Tests {
    /// MD5 matches the RFC 1321 appendix A.5 test suite.
    @Test(arguments: [
        ("", "d41d8cd98f00b204e9800998ecf8427e"),
        ("a", "0cc175b9c0f1b6a831c399e269772661"),
        ("abc", "900150983cd24fb0d6963f7d28e17f72"),
        ("message digest", "f96b697d7cb7938d525a2f31aaf161d0"),
        ("abcdefghijklmnopqrstuvwxyz", "c3fcd3d76192e4007dfb496cca67e13b"),
        ("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789", "d174ab98d277d9f5a5611c2c9f419d9f"),
        ("12345678901234567890123456789012345678901234567890123456789012345678901234567890",
         "57edf4a22be3c955ac49da2e2107b67a"),
    ])
    func rfc1321(_ input: String, _ digest: String) {
        #expect(Hex.encodeString(MD5.digest(bytes(input))) == digest)
    }

    /// HMAC-MD5 matches the RFC 2104 appendix test vectors.
    @Test func rfc2104() {
        #expect(Hex.encodeString(MD5.hmac(key: [UInt8](repeating: 0x0b, count: 16), message: bytes("Hi There")))
                == "9294727a3638bb1c13f48ef8158bfc9d")
        #expect(Hex.encodeString(MD5.hmac(key: bytes("Jefe"), message: bytes("what do ya want for nothing?")))
                == "750c783e6ab0b503eaa86e310a5db738")
        #expect(Hex.encodeString(MD5.hmac(key: [UInt8](repeating: 0xAA, count: 16),
                                          message: [UInt8](repeating: 0xDD, count: 50)))
                == "56be34521d144c88dbb8c733f0e8b3f6")
    }

    /// A key longer than the block is hashed first (RFC 2202 test 6).
    @Test func longKey() {
        #expect(Hex.encodeString(MD5.hmac(key: [UInt8](repeating: 0xAA, count: 80),
                                          message: bytes("Test Using Larger Than Block-Size Key - Hash Key First")))
                == "6b1ab7fe4bd7bf8f0b62e6ce61b9d0cd")
    }

    /// The CRAM-MD5 response matches the RFC 2195 §2 example.
    @Test func cramExample() {
        let response = MD5.cramResponse(user: bytes("tim"), password: bytes("tanstaaftanstaaf"),
                                        challenge: bytes("<1896.697170952@postoffice.reston.mci.net>"))
        #expect(response == bytes("tim b913a602c7eda7a495b4e6e7334d3890"))
        #expect(Base64.encodeString(response) == "dGltIGI5MTNhNjAyYzdlZGE3YTQ5NWI0ZTZlNzMzNGQzODkw")
    }
}

@Suite struct LineBufferTests {
    /// CRLF and bare LF both end a line, and pipelined lines come out one by one.
    @Test func splitsLines() {
        var buffer = LineBuffer(limit: 64)
        buffer.append(bytes("one\r\ntwo\nthr"))
        #expect(buffer.nextLine() == .line(bytes("one")))
        #expect(buffer.nextLine() == .line(bytes("two")))
        #expect(buffer.nextLine() == .needMoreBytes)
        buffer.append(bytes("ee\r\n"))
        #expect(buffer.nextLine() == .line(bytes("three")))
        #expect(buffer.isEmpty)
    }

    /// A full buffer without a line feed reports lineTooLong.
    @Test func reportsTooLong() {
        var buffer = LineBuffer(limit: 8)
        buffer.append(bytes("1234567"))
        #expect(buffer.nextLine() == .needMoreBytes)
        #expect(buffer.freeSpace == 1)
        buffer.append(bytes("8"))
        #expect(buffer.nextLine() == .lineTooLong)
    }

    /// A line of exactly the limit, terminator included, is accepted.
    @Test func lineAtLimit() {
        var buffer = LineBuffer(limit: 8)
        buffer.append(bytes("123456\r\nrest"))
        #expect(buffer.nextLine() == .line(bytes("123456")))
        #expect(buffer.takeAll() == bytes("rest"))
    }

    /// Lines are found the same way when bytes arrive one at a time.
    @Test func byteByByte() {
        var buffer = LineBuffer(limit: 16)
        var got: [[UInt8]] = []
        for b in bytes("a1\r\nb2\nc3\r\n") {
            buffer.append([b])
            while case .line(let l) = buffer.nextLine() { got.append(l) }
        }
        #expect(got == [bytes("a1"), bytes("b2"), bytes("c3")])
    }
}
