internal import CZlib

/// Gzip compression with zlib, in the format of RFC 1952 that `gzip`,
/// DuckDB, Athena and BigQuery read.
///
/// The output depends only on the input and the level: the header carries no
/// file name and a zero modification time, so compressing a page again
/// yields the same bytes.
public enum Gzip {
    /// An error reported by zlib, or input that is not one gzip stream.
    public struct ZlibError: Error, Sendable, Equatable, CustomStringConvertible {
        /// What went wrong.
        public var message: String

        /// Creates an error.
        public init(message: String) {
            self.message = message
        }

        public var description: String {
            "gzip: \(message)"
        }
    }

    /// Compresses `data` into one gzip stream.
    ///
    /// - Parameters:
    ///   - data: The bytes to compress.
    ///   - level: From 0 (store only) to 9 (smallest output); 6 is zlib's
    ///     default balance of speed and size.
    /// - Throws: ``ZlibError`` when the level is out of range or zlib runs
    ///   out of memory.
    public static func compress(_ data: [UInt8], level: Int = 6) throws -> [UInt8] {
        guard (0...9).contains(level) else {
            throw ZlibError(message: "compression level must be between 0 and 9, not \(level)")
        }
        var stream = z_stream()
        let status = czlib_deflate_init_gzip(&stream, Int32(level))
        guard status == Z_OK else { throw failure(status, stream) }
        defer { deflateEnd(&stream) }
        return try pump(&stream, input: data) { deflate(&$0, $1) }
    }

    /// Decompresses one gzip stream.
    ///
    /// - Throws: ``ZlibError`` when `data` is not a single, complete gzip
    ///   stream or its checksum does not match.
    public static func decompress(_ data: [UInt8]) throws -> [UInt8] {
        var stream = z_stream()
        let status = czlib_inflate_init_gzip(&stream)
        guard status == Z_OK else { throw failure(status, stream) }
        defer { inflateEnd(&stream) }
        let output = try pump(&stream, input: data) { inflate(&$0, $1) }
        guard stream.total_in == data.count else {
            throw ZlibError(message: "unexpected data after the end of the gzip stream")
        }
        return output
    }

    /// Feeds `input` through `step` (deflate or inflate) until the stream
    /// ends, collecting the output in chunks.
    private static func pump(
        _ stream: inout z_stream,
        input: [UInt8],
        step: (inout z_stream, Int32) -> Int32
    ) throws -> [UInt8] {
        var output: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 64 * 1024)
        return try input.withUnsafeBufferPointer { input in
            var offset = 0
            while true {
                if stream.avail_in == 0, offset < input.count {
                    let length = min(input.count - offset, Int(UInt32.max))
                    stream.next_in = UnsafeMutablePointer(mutating: input.baseAddress! + offset)
                    stream.avail_in = UInt32(length)
                    offset += length
                }
                let flush = offset == input.count ? Z_FINISH : Z_NO_FLUSH
                let status = chunk.withUnsafeMutableBufferPointer { buffer in
                    stream.next_out = buffer.baseAddress
                    stream.avail_out = UInt32(buffer.count)
                    return step(&stream, flush)
                }
                let produced = chunk.count - Int(stream.avail_out)
                output.append(contentsOf: chunk[..<produced])
                switch status {
                case Z_STREAM_END:
                    return output
                case Z_OK:
                    continue
                case Z_BUF_ERROR where produced > 0 || stream.avail_in > 0:
                    continue
                case Z_BUF_ERROR:
                    throw ZlibError(message: "the gzip stream is truncated")
                default:
                    throw failure(status, stream)
                }
            }
        }
    }

    /// zlib's message for a failed call.
    private static func failure(_ status: Int32, _ stream: z_stream) -> ZlibError {
        ZlibError(message: stream.msg.map { String(cString: $0) } ?? String(cString: zError(status)))
    }
}
