//! The protobuf wire format, read field by field with the `protobuf`
//! crate's [`CodedInputStream`].
//!
//! CRIU's image entries are proto2 messages of `images/*.proto`. rust-criu
//! ships only `rpc.proto`, so instead of generated types each decoder in
//! this crate walks the fields of a [`Message`] and picks the field numbers
//! it knows (citing the `.proto` message they come from); unknown fields
//! are skipped, as protobuf requires, so newer CRIUs' images still read.
//!
//! Every error carries the absolute byte offset in the image file, so a
//! corrupt entry is reported as "file: corrupt at offset N: ...".

use protobuf::CodedInputStream;

use crate::error::WireError;

/// One encoded message: its bytes and where they start in the file.
#[derive(Debug, Clone, Copy)]
pub struct Message<'a> {
    bytes: &'a [u8],
    base: u64,
}

impl<'a> Message<'a> {
    /// A message of `bytes`, which start at byte `base` of their file.
    pub fn new(bytes: &'a [u8], base: u64) -> Message<'a> {
        Message { bytes, base }
    }

    /// The encoded bytes.
    pub fn bytes(&self) -> &'a [u8] {
        self.bytes
    }

    /// The offset of the first byte in the file.
    pub fn offset(&self) -> u64 {
        self.base
    }

    /// The fields in the order they were written. The iterator ends after
    /// the first error.
    pub fn fields(&self) -> Fields<'a> {
        Fields {
            is: CodedInputStream::from_bytes(self.bytes),
            bytes: self.bytes,
            base: self.base,
            done: false,
        }
    }

    /// An error for a required field (proto2 `required`) the message lacks.
    pub fn missing(&self, message: &str, field: &str, number: u32) -> WireError {
        WireError::new(
            self.base,
            format!("{message}: required field {field} ({number}) is missing"),
        )
    }
}

/// A field's value as the wire format carries it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Value<'a> {
    /// Wire type 0: (u)int32/64, sint32/64, bool, enum.
    Varint(u64),
    /// Wire type 1: fixed64, sfixed64, double.
    Fixed64(u64),
    /// Wire type 5: fixed32, sfixed32, float.
    Fixed32(u32),
    /// Wire type 2: string, bytes, a message or a packed repeated field;
    /// `offset` is where `data` starts in the file.
    Bytes { data: &'a [u8], offset: u64 },
}

/// One field: its number, value and the offset of its tag in the file.
#[derive(Debug, Clone, Copy)]
pub struct Field<'a> {
    pub number: u32,
    pub value: Value<'a>,
    pub offset: u64,
}

/// The fields of a [`Message`].
pub struct Fields<'a> {
    is: CodedInputStream<'a>,
    bytes: &'a [u8],
    base: u64,
    done: bool,
}

impl<'a> Fields<'a> {
    fn err(&mut self, at: u64, detail: String) -> Option<Result<Field<'a>, WireError>> {
        self.done = true;
        Some(Err(WireError::new(self.base + at, detail)))
    }
}

impl<'a> Iterator for Fields<'a> {
    type Item = Result<Field<'a>, WireError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let at = self.is.pos();
        let tag = match self.is.read_raw_tag_or_eof() {
            Ok(None) => {
                self.done = true;
                return None;
            }
            Ok(Some(tag)) => tag,
            Err(e) => return self.err(at, format!("bad field tag: {e}")),
        };
        let number = tag >> 3;
        if number == 0 {
            return self.err(at, format!("bad field tag 0x{tag:x} (field number 0)"));
        }
        let value = match tag & 7 {
            0 => self.is.read_raw_varint64().map(Value::Varint),
            1 => self.is.read_raw_little_endian64().map(Value::Fixed64),
            5 => self.is.read_raw_little_endian32().map(Value::Fixed32),
            2 => {
                let len = match self.is.read_raw_varint32() {
                    Ok(n) => n,
                    Err(e) => return self.err(at, format!("field {number}: bad length: {e}")),
                };
                let start = self.is.pos();
                let left = self.bytes.len() as u64 - start.min(self.bytes.len() as u64);
                if u64::from(len) > left {
                    return self.err(
                        at,
                        format!(
                            "field {number}: length {len} runs past the end of the message \
                             ({left} bytes left)"
                        ),
                    );
                }
                // In bounds: checked against the slice length just above.
                let (s, e) = (start as usize, start as usize + len as usize);
                match self.is.skip_raw_bytes(len) {
                    Ok(()) => Ok(Value::Bytes {
                        data: &self.bytes[s..e],
                        offset: self.base + start,
                    }),
                    Err(e) => Err(e),
                }
            }
            w => {
                return self.err(
                    at,
                    format!(
                    "field {number}: wire type {w} (groups and unknown types are not used by CRIU)"
                ),
                )
            }
        };
        match value {
            Ok(value) => Some(Ok(Field {
                number,
                value,
                offset: self.base + at,
            })),
            Err(e) => self.err(at, format!("field {number}: {e}")),
        }
    }
}

impl<'a> Field<'a> {
    fn wrong(&self, want: &str) -> WireError {
        let got = match self.value {
            Value::Varint(_) => "a varint",
            Value::Fixed64(_) => "a fixed64",
            Value::Fixed32(_) => "a fixed32",
            Value::Bytes { .. } => "length-delimited bytes",
        };
        WireError::new(
            self.offset,
            format!("field {}: {got} where {want} was expected", self.number),
        )
    }

    /// `uint64` (also accepts `fixed64`).
    pub fn u64(&self) -> Result<u64, WireError> {
        match self.value {
            Value::Varint(v) | Value::Fixed64(v) => Ok(v),
            _ => Err(self.wrong("a varint")),
        }
    }

    /// `uint32` or an enum.
    pub fn u32(&self) -> Result<u32, WireError> {
        match self.value {
            Value::Varint(v) => u32::try_from(v).map_err(|_| {
                WireError::new(
                    self.offset,
                    format!("field {}: {v} does not fit a uint32", self.number),
                )
            }),
            Value::Fixed32(v) => Ok(v),
            _ => Err(self.wrong("a varint")),
        }
    }

    /// `int32`: negative values are sign-extended to 64 bits on the wire.
    pub fn i32(&self) -> Result<i32, WireError> {
        match self.value {
            Value::Varint(v) => Ok(v as i64 as i32),
            _ => Err(self.wrong("a varint")),
        }
    }

    /// `sint32` (zigzag).
    pub fn sint32(&self) -> Result<i32, WireError> {
        let v = self.u32()?;
        Ok(((v >> 1) as i32) ^ -((v & 1) as i32))
    }

    /// `sint64` (zigzag).
    pub fn sint64(&self) -> Result<i64, WireError> {
        let v = self.u64()?;
        Ok(((v >> 1) as i64) ^ -((v & 1) as i64))
    }

    /// `bool`.
    pub fn bool(&self) -> Result<bool, WireError> {
        match self.value {
            Value::Varint(v) => Ok(v != 0),
            _ => Err(self.wrong("a varint")),
        }
    }

    /// `bytes`.
    pub fn bytes(&self) -> Result<&'a [u8], WireError> {
        match self.value {
            Value::Bytes { data, .. } => Ok(data),
            _ => Err(self.wrong("length-delimited bytes")),
        }
    }

    /// `string`. CRIU copies names from the kernel as they are, so invalid
    /// UTF-8 is replaced rather than refused.
    pub fn string(&self) -> Result<String, WireError> {
        Ok(String::from_utf8_lossy(self.bytes()?).into_owned())
    }

    /// A nested message.
    pub fn message(&self) -> Result<Message<'a>, WireError> {
        match self.value {
            Value::Bytes { data, offset } => Ok(Message::new(data, offset)),
            _ => Err(self.wrong("a message")),
        }
    }

    /// One or more values of a `repeated uint32` field, packed or not.
    pub fn push_u32s(&self, out: &mut Vec<u32>) -> Result<(), WireError> {
        self.push_packed(out, |is| is.read_raw_varint32(), Self::u32)
    }

    /// One or more values of a `repeated uint64` field, packed or not.
    pub fn push_u64s(&self, out: &mut Vec<u64>) -> Result<(), WireError> {
        self.push_packed(out, |is| is.read_raw_varint64(), Self::u64)
    }

    /// A repeated varint field: a packed run (one length-delimited value),
    /// or one plain value.
    fn push_packed<T>(
        &self,
        out: &mut Vec<T>,
        read: fn(&mut CodedInputStream<'_>) -> protobuf::Result<T>,
        one: fn(&Self) -> Result<T, WireError>,
    ) -> Result<(), WireError> {
        match self.value {
            Value::Bytes { data, offset } => {
                let mut is = CodedInputStream::from_bytes(data);
                loop {
                    let at = is.pos();
                    match is.eof() {
                        Ok(true) => return Ok(()),
                        Ok(false) => {}
                        Err(e) => return Err(WireError::new(offset + at, e.to_string())),
                    }
                    let v = read(&mut is).map_err(|e| {
                        WireError::new(offset + at, format!("field {} (packed): {e}", self.number))
                    })?;
                    out.push(v);
                }
            }
            _ => {
                out.push(one(self)?);
                Ok(())
            }
        }
    }
}

/// Encoding, for the unit tests' fixtures (CRIU writes the images; this
/// crate only reads them).
#[cfg(test)]
pub(crate) mod enc {
    /// A message under construction.
    #[derive(Default, Clone)]
    pub struct Msg(pub Vec<u8>);

    fn varint(out: &mut Vec<u8>, mut v: u64) {
        loop {
            let b = (v & 0x7f) as u8;
            v >>= 7;
            if v == 0 {
                out.push(b);
                return;
            }
            out.push(b | 0x80);
        }
    }

    impl Msg {
        pub fn new() -> Msg {
            Msg::default()
        }
        pub fn varint(mut self, n: u32, v: u64) -> Msg {
            varint(&mut self.0, u64::from(n) << 3);
            varint(&mut self.0, v);
            self
        }
        pub fn sint(self, n: u32, v: i64) -> Msg {
            self.varint(n, ((v << 1) ^ (v >> 63)) as u64)
        }
        pub fn bytes(mut self, n: u32, b: &[u8]) -> Msg {
            varint(&mut self.0, (u64::from(n) << 3) | 2);
            varint(&mut self.0, b.len() as u64);
            self.0.extend_from_slice(b);
            self
        }
        pub fn string(self, n: u32, s: &str) -> Msg {
            self.bytes(n, s.as_bytes())
        }
        pub fn msg(self, n: u32, m: &Msg) -> Msg {
            self.bytes(n, &m.0)
        }
        pub fn packed(self, n: u32, vs: &[u64]) -> Msg {
            let mut b = Vec::new();
            for v in vs {
                varint(&mut b, *v);
            }
            self.bytes(n, &b)
        }
    }

    /// An image file: the magics, then each entry with its u32 size.
    pub fn image(magics: &[u32], entries: &[&Msg]) -> Vec<u8> {
        let mut out = Vec::new();
        for m in magics {
            out.extend_from_slice(&m.to_le_bytes());
        }
        for e in entries {
            out.extend_from_slice(&(e.0.len() as u32).to_le_bytes());
            out.extend_from_slice(&e.0);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::enc::Msg;
    use super::*;

    #[test]
    fn reads_every_wire_type_and_skips_nothing() {
        let inner = Msg::new().varint(1, 7);
        let mut m = Msg::new()
            .varint(1, 300)
            .sint(2, -5)
            .string(3, "héllo")
            .msg(4, &inner)
            .packed(5, &[1, 2, 70000]);
        // fixed64 field 6 and fixed32 field 7, written by hand.
        m.0.push((6 << 3) | 1);
        m.0.extend_from_slice(&9u64.to_le_bytes());
        m.0.push((7 << 3) | 5);
        m.0.extend_from_slice(&11u32.to_le_bytes());
        let msg = Message::new(&m.0, 100);
        let fields: Vec<Field> = msg.fields().collect::<Result<_, _>>().expect("decodes");
        assert_eq!(fields.len(), 7);
        assert_eq!(fields[0].u32(), Ok(300));
        assert_eq!(fields[0].offset, 100);
        assert_eq!(fields[1].sint64(), Ok(-5));
        assert_eq!(fields[1].sint32(), Ok(-5));
        assert_eq!(fields[2].string().as_deref(), Ok("héllo"));
        let nested = fields[3].message().expect("message");
        let f: Vec<Field> = nested.fields().collect::<Result<_, _>>().expect("nested");
        assert_eq!(f[0].u32(), Ok(7));
        let mut v = Vec::new();
        fields[4].push_u32s(&mut v).expect("packed");
        fields[0].push_u32s(&mut v).expect("unpacked");
        assert_eq!(v, [1, 2, 70000, 300]);
        assert_eq!(fields[5].u64(), Ok(9));
        assert_eq!(fields[6].u32(), Ok(11));
        // Type confusion is an error, not a panic.
        assert!(fields[2].u32().is_err());
        assert!(fields[0].bytes().is_err());
    }

    #[test]
    fn negative_int32_is_sign_extended() {
        let m = Msg::new().varint(1, -3i64 as u64);
        let f = Message::new(&m.0, 0)
            .fields()
            .next()
            .expect("a field")
            .expect("ok");
        assert_eq!(f.i32(), Ok(-3));
        assert!(f.u32().is_err(), "a 64-bit value is not a uint32");
    }

    #[test]
    fn truncation_names_the_offset() {
        let m = Msg::new().varint(1, 1).string(2, "abcdef");
        let cut = &m.0[..m.0.len() - 2];
        let err = Message::new(cut, 40)
            .fields()
            .find_map(Result::err)
            .expect("an error");
        assert_eq!(err.offset, 42, "{err}");
        assert!(err.detail.contains("runs past the end"), "{err}");
        // A varint cut in the middle.
        let err = Message::new(&[0x08, 0x80], 0)
            .fields()
            .find_map(Result::err)
            .expect("an error");
        assert_eq!(err.offset, 0, "{err}");
    }
}
