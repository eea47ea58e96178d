//! Host names as certificates carry them: the ASCII (A-label) form of an
//! internationalised name, so a refusal of `bücher.example` can say what to use instead.

/// The ASCII form of a host name with non-ASCII labels (`bücher.example` →
/// `xn--bcher-kva.example`), each such label lowercased and Punycode-encoded (RFC 3492).
/// None when the name is ASCII already. This is the encoding alone, without IDNA's full
/// mapping table: good for the names operators type, and shown as a suggestion.
pub fn ascii_host(host: &str) -> Option<String> {
    if host.is_ascii() {
        return None;
    }
    let labels: Option<Vec<String>> = host
        .trim_end_matches('.')
        .split('.')
        .map(|label| {
            if label.is_ascii() {
                Some(label.to_ascii_lowercase())
            } else {
                punycode(&label.to_lowercase()).map(|encoded| format!("xn--{encoded}"))
            }
        })
        .collect();
    labels.map(|labels| labels.join("."))
}

/// A hint for an error message: `; use its ASCII form xn--…` or nothing.
pub fn ascii_hint(host: &str) -> String {
    ascii_host(host)
        .map(|ascii| format!("; an internationalised name goes into certificates and SNI in its ASCII form: {ascii}"))
        .unwrap_or_default()
}

/// RFC 3492 Punycode of one label (without the `xn--` prefix).
fn punycode(label: &str) -> Option<String> {
    const BASE: u32 = 36;
    const T_MIN: u32 = 1;
    const T_MAX: u32 = 26;
    let input: Vec<u32> = label.chars().map(u32::from).collect();
    let mut output: String = label.chars().filter(char::is_ascii).collect();
    let basic = output.len() as u32;
    if basic > 0 {
        output.push('-');
    }
    let digit = |d: u32| -> char {
        let byte = if d < 26 {
            b'a' + d as u8
        } else {
            b'0' + (d - 26) as u8
        };
        char::from(byte)
    };
    let (mut n, mut delta, mut bias, mut handled) = (128u32, 0u32, 72u32, basic);
    let total = input.len() as u32;
    while handled < total {
        let next = *input.iter().filter(|&&c| c >= n).min()?;
        delta = delta.checked_add((next - n).checked_mul(handled + 1)?)?;
        n = next;
        for &c in &input {
            if c < n {
                delta = delta.checked_add(1)?;
            }
            if c == n {
                let mut q = delta;
                let mut k = BASE;
                loop {
                    let t = if k <= bias {
                        T_MIN
                    } else if k >= bias + T_MAX {
                        T_MAX
                    } else {
                        k - bias
                    };
                    if q < t {
                        break;
                    }
                    output.push(digit(t + (q - t) % (BASE - t)));
                    q = (q - t) / (BASE - t);
                    k += BASE;
                }
                output.push(digit(q));
                bias = adapt(delta, handled + 1, handled == basic);
                delta = 0;
                handled += 1;
            }
        }
        delta += 1;
        n += 1;
    }
    Some(output)
}

fn adapt(delta: u32, points: u32, first: bool) -> u32 {
    let mut delta = if first { delta / 700 } else { delta / 2 };
    delta += delta / points;
    let mut k = 0;
    while delta > ((36 - 1) * 26) / 2 {
        delta /= 36 - 1;
        k += 36;
    }
    k + (36 * delta) / (delta + 38)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc_3492_and_common_names() {
        assert_eq!(
            ascii_host("bücher.example").unwrap(),
            "xn--bcher-kva.example"
        );
        assert_eq!(ascii_host("München.de").unwrap(), "xn--mnchen-3ya.de");
        assert_eq!(ascii_host("例え.jp").unwrap(), "xn--r8jz45g.jp");
        assert_eq!(ascii_host("rancher.example.com"), None);
    }
}
