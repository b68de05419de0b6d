import Foundation

extension S3Storage {
    /// Reads the parts one at a time and sends their bytes as the parts of
    /// one multipart upload, each at least ``partSize`` but the last, so that
    /// memory holds about one upload part; when everything fits in one part
    /// it is a single `PUT Object` instead. S3 makes a multipart upload's
    /// object visible only when it is completed, so this is all or nothing;
    /// on a failure the upload is aborted, leaving no parts behind.
    public func concatenate(
        _ parts: [String],
        into key: String,
        afterEachPart: () async throws -> Void
    ) async throws -> ObjectDigest {
        let threshold = max(partSize, 5 * 1024 * 1024)
        var digest = ObjectDigest.Builder()
        var buffer: [UInt8] = []
        var upload: MultipartUpload?
        do {
            for part in parts {
                guard let data = try await get(key: part) else {
                    throw StorageError.s3(
                        operation: "read", url: displayURL(of: part), status: 404,
                        reason: "NoSuchKey: the part to concatenate is missing", attempts: 1)
                }
                digest.update(data)
                buffer += data
                if buffer.count >= threshold {
                    if upload == nil { upload = try await createMultipartUpload(key: key) }
                    try await upload!.send(buffer, with: self)
                    buffer.removeAll(keepingCapacity: true)
                }
                try await afterEachPart()
            }
            guard var started = upload else {
                try await put(key: key, data: buffer)
                return digest.finalize()
            }
            if !buffer.isEmpty { try await started.send(buffer, with: self) }
            upload = started
            try await complete(started)
            return digest.finalize()
        } catch {
            if let upload { try? await abort(upload) }
            throw error
        }
    }

    /// A multipart upload under way: its id and the ETags of the parts sent.
    struct MultipartUpload {
        var key: String
        var id: String
        var etags: [String] = []

        /// Sends `bytes` as the next part and keeps its ETag.
        mutating func send(_ bytes: [UInt8], with storage: S3Storage) async throws {
            let number = etags.count + 1
            let response = try await storage.send(
                "PUT", key: key, query: [("partNumber", String(number)), ("uploadId", id)], body: bytes,
                contentType: "application/octet-stream", accept: [200], operation: "upload part \(number) of")
            guard let etag = response.etag else {
                throw StorageError.s3(
                    operation: "upload part \(number) of", url: storage.displayURL(of: key),
                    status: response.status, reason: "the response has no ETag", attempts: 1)
            }
            etags.append(etag)
        }
    }

    /// `CreateMultipartUpload`: a new upload for `key`, with the key's
    /// content type.
    func createMultipartUpload(key: String) async throws -> MultipartUpload {
        let response = try await send(
            "POST", key: key, query: [("uploads", "")],
            contentType: Self.contentType(of: key), accept: [200],
            operation: "start a multipart upload of")
        guard let id = S3XML(response.body).element("UploadId") else {
            throw StorageError.s3(
                operation: "start a multipart upload of", url: displayURL(of: key),
                status: response.status, reason: "the response has no UploadId", attempts: 1)
        }
        return MultipartUpload(key: key, id: id)
    }

    /// `CompleteMultipartUpload`, which S3 may refuse with an error in the
    /// body of a `200 OK`.
    func complete(_ upload: MultipartUpload) async throws {
        let parts = upload.etags.enumerated().map { index, etag in
            "<Part><PartNumber>\(index + 1)</PartNumber><ETag>\(Self.escaped(etag))</ETag></Part>"
        }
        let body = "<CompleteMultipartUpload>" + parts.joined() + "</CompleteMultipartUpload>"
        let response = try await send(
            "POST", key: upload.key, query: [("uploadId", upload.id)],
            body: Array(body.utf8), contentType: "application/xml", accept: [200],
            operation: "complete the multipart upload of")
        if S3XML(response.body).element("Error") != nil {
            throw StorageError.s3(
                operation: "complete the multipart upload of", url: displayURL(of: upload.key),
                status: response.status,
                reason: Self.reason(status: response.status, body: Data(response.body)), attempts: 1)
        }
    }

    /// `AbortMultipartUpload`: S3 drops the parts sent.
    func abort(_ upload: MultipartUpload) async throws {
        _ = try await send(
            "DELETE", key: upload.key, query: [("uploadId", upload.id)], accept: [200, 204, 404],
            operation: "abort the multipart upload of")
    }

    private static func escaped(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;")
    }
}
