extension Duration {
    /// Reads a duration such as `500ms`, `30s`, `5m` or `1h` (one number,
    /// one unit), or `nil` when `text` is not one or is not positive.
    public init?(parsing text: String) {
        let units: [(suffix: String, seconds: Double)] = [("ms", 0.001), ("s", 1), ("m", 60), ("h", 3_600)]
        guard let unit = units.first(where: { text.hasSuffix($0.suffix) }),
            let number = Double(text.dropLast(unit.suffix.count)),
            number.isFinite, number > 0
        else { return nil }
        self = .milliseconds(Int64((number * unit.seconds * 1_000).rounded()))
    }
}
