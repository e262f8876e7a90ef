/// The tokenizer is the text codec of the revise loop.
extension Tokenizer: TextCodec {}
