//! Scans of raw input bytes that run before (or instead of) parsing: private key blocks
//! in files meant to be public, and DER cut short.

/// The labels of the private key blocks in PEM text (`PRIVATE KEY`, `RSA PRIVATE KEY`,
/// `EC PRIVATE KEY`, `ENCRYPTED PRIVATE KEY`, `OPENSSH PRIVATE KEY`, …), in file order.
/// Used to keep keys out of files meant to be public (`cacerts.pem`, `tls-ca`, `tls.crt`).
pub fn private_key_labels(bytes: &[u8]) -> Vec<String> {
    private_key_spans(bytes)
        .into_iter()
        .map(|(_, _, label)| label)
        .collect()
}

/// The bytes with every private key block (and the line end after it) cut out.
pub fn without_private_keys(bytes: &[u8]) -> Vec<u8> {
    let mut kept = Vec::with_capacity(bytes.len());
    let mut from = 0;
    for (start, end, _) in private_key_spans(bytes) {
        kept.extend_from_slice(&bytes[from..start]);
        from = end;
    }
    kept.extend_from_slice(&bytes[from..]);
    kept
}

/// (start, end, label) of each private key block; a block without its END line runs to
/// the end of the input.
fn private_key_spans(bytes: &[u8]) -> Vec<(usize, usize, String)> {
    const BEGIN: &[u8] = b"-----BEGIN ";
    let mut spans = Vec::new();
    let mut at = 0;
    while let Some(offset) = find(&bytes[at..], BEGIN) {
        let start = at + offset;
        let label_from = start + BEGIN.len();
        let label_len = find(&bytes[label_from..], b"-----").unwrap_or(0);
        let label = String::from_utf8_lossy(&bytes[label_from..label_from + label_len])
            .trim()
            .to_string();
        let end_marker = format!("-----END {label}-----");
        let mut end = find(&bytes[start..], end_marker.as_bytes())
            .map_or(bytes.len(), |found| start + found + end_marker.len());
        if !label.ends_with("PRIVATE KEY") {
            at = end.max(label_from);
            continue;
        }
        for line_end in [b'\r', b'\n'] {
            if bytes.get(end) == Some(&line_end) {
                end += 1;
            }
        }
        spans.push((start, end, label));
        at = end;
    }
    spans
}

pub(crate) fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack
        .windows(needle.len())
        .position(|window| window == needle)
}

/// (announced, held, header length) when the outer DER SEQUENCE claims more bytes than
/// there are.
pub(crate) fn truncated_der(bytes: &[u8]) -> Option<(usize, usize, usize)> {
    let first = *bytes.get(1)?;
    let (length, header) = if first < 0x80 {
        (usize::from(first), 2)
    } else {
        let count = usize::from(first & 0x7f);
        if count == 0 || count > 4 {
            return None;
        }
        let digits = bytes.get(2..2 + count)?;
        let length = digits
            .iter()
            .fold(0usize, |acc, digit| (acc << 8) | usize::from(*digit));
        (length, 2 + count)
    };
    let announced = header.checked_add(length)?;
    (announced > bytes.len()).then_some((announced, bytes.len(), header))
}
