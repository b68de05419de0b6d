/// The elements auditlogctl reads from S3's XML responses: list results,
/// multipart upload ids and error codes.
///
/// Those responses are small and their elements of interest hold text
/// only, so a scan by tag name is enough; no XML parser is needed. The
/// text comes back with XML's entities decoded.
struct S3XML {
    /// The response body as text.
    let text: String

    /// Reads a response body.
    init(_ body: some Collection<UInt8>) {
        text = String(decoding: body, as: UTF8.self)
    }

    /// Reads a response body already decoded as text.
    init(_ text: String) {
        self.text = text
    }

    /// The text of the first element `name`, entities decoded, or `nil`
    /// when there is none.
    func element(_ name: String) -> String? {
        elements(name).first
    }

    /// The texts of every element `name`, in document order, entities
    /// decoded.
    func elements(_ name: String) -> [String] {
        let open = "<\(name)>"
        let close = "</\(name)>"
        var found: [String] = []
        var rest = text[...]
        while let start = rest.range(of: open), let end = rest.range(of: close, range: start.upperBound..<rest.endIndex)
        {
            found.append(Self.decodingEntities(rest[start.upperBound..<end.lowerBound]))
            rest = rest[end.upperBound...]
        }
        return found
    }

    /// `text` with XML's predefined entities (`&amp;`, `&lt;`, `&gt;`,
    /// `&quot;`, `&apos;`) and character references (`&#38;`, `&#x26;`)
    /// replaced; anything else that starts with `&` is kept as it is.
    static func decodingEntities(_ text: Substring) -> String {
        guard text.contains("&") else { return String(text) }
        var decoded = ""
        var rest = text
        while let ampersand = rest.firstIndex(of: "&") {
            decoded += rest[..<ampersand]
            let afterAmpersand = rest.index(after: ampersand)
            guard let semicolon = rest[afterAmpersand...].firstIndex(of: ";"),
                let character = character(named: rest[afterAmpersand..<semicolon])
            else {
                decoded.append("&")
                rest = rest[afterAmpersand...]
                continue
            }
            decoded.append(character)
            rest = rest[rest.index(after: semicolon)...]
        }
        decoded += rest
        return decoded
    }

    /// The character an entity or character reference stands for, given
    /// what lies between `&` and `;`.
    private static func character(named name: Substring) -> Character? {
        switch name {
        case "amp": return "&"
        case "lt": return "<"
        case "gt": return ">"
        case "quot": return "\""
        case "apos": return "'"
        default:
            guard name.hasPrefix("#") else { return nil }
            let digits = name.dropFirst()
            let value =
                digits.hasPrefix("x") || digits.hasPrefix("X")
                ? UInt32(digits.dropFirst(), radix: 16) : UInt32(digits, radix: 10)
            return value.flatMap(Unicode.Scalar.init).map(Character.init)
        }
    }
}
