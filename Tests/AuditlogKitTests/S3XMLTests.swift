import Testing

@testable import AuditlogKit

@Suite struct S3XMLTests {
    @Test func decodesPredefinedEntitiesAndCharacterReferences() {
        let xml = S3XML("<Key>a&amp;b &lt;c&gt; &quot;d&quot; &apos;e&apos; &#233; &#x263A; &amp;lt;</Key>")
        #expect(xml.element("Key") == "a&b <c> \"d\" 'e' é ☺ &lt;")
    }

    @Test func keepsWhatIsNotAnEntity() {
        let xml = S3XML("<Key>fish &chips; a & b &#xZZ; &#;</Key>")
        #expect(xml.element("Key") == "fish &chips; a & b &#xZZ; &#;")
    }

    @Test func findsRepeatedElementsInsideOthersInOrder() {
        let xml = S3XML(
            Array(
                """
                <?xml version="1.0" encoding="UTF-8"?>
                <ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
                  <IsTruncated>true</IsTruncated>
                  <Contents><Key>one</Key><Size>1</Size></Contents>
                  <Contents><Key>two</Key><Size>2</Size></Contents>
                  <NextContinuationToken>token&#x2F;1</NextContinuationToken>
                </ListBucketResult>
                """.utf8))
        #expect(xml.elements("Key") == ["one", "two"])
        #expect(xml.element("Key") == "one")
        #expect(xml.element("IsTruncated") == "true")
        #expect(xml.element("NextContinuationToken") == "token/1")
    }

    @Test func aMissingOrUnclosedElementIsNil() {
        let xml = S3XML("<Error><Code>NoSuchUpload</Code><Message>gone")
        #expect(xml.element("UploadId") == nil)
        #expect(xml.elements("UploadId").isEmpty)
        #expect(xml.element("Message") == nil)
        #expect(xml.element("Code") == "NoSuchUpload")
    }
}
