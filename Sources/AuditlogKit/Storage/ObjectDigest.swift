import Crypto
import Foundation

/// The size and SHA-256 of a stored object.
public struct ObjectDigest: Sendable, Equatable {
    /// Its size in bytes.
    public var bytes: Int
    /// Its SHA-256 in lowercase hex.
    public var sha256: String

    /// Creates a digest.
    public init(bytes: Int, sha256: String) {
        self.bytes = bytes
        self.sha256 = sha256
    }

    /// Computes the digest of an object written in pieces.
    struct Builder {
        private var hash = SHA256()
        private var bytes = 0

        mutating func update(_ piece: UnsafeRawBufferPointer) {
            hash.update(bufferPointer: piece)
            bytes += piece.count
        }

        mutating func update(_ piece: [UInt8]) {
            piece.withUnsafeBytes { update($0) }
        }

        func finalize() -> ObjectDigest {
            ObjectDigest(bytes: bytes, sha256: hash.finalize().map { String(format: "%02x", $0) }.joined())
        }
    }
}
