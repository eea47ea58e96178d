//! `--max-depth N`: the chain as a reader with a verify depth counts it (nginx's
//! `proxy_ssl_verify_depth`, `openssl verify -verify_depth`; a strict verifier's maximum
//! chain depth).

use super::*;

impl Examined<'_> {
    /// `--max-depth N` (OpenSSL's `-verify_depth`, nginx's `proxy_ssl_verify_depth`):
    /// a path with more intermediate CAs than a reader allows. OpenSSL counts every
    /// intermediate of the chain it builds up to the self-signed root, those of the CA
    /// file included ("certificate chain too long"); the strict reading counts the logical
    /// CAs up to its trust anchor, not a self-issued repeat of one (RFC 5280 6.1.4 (l)).
    /// Go has no such limit.
    pub(super) fn depth_refusal(&self, reader: Reader) -> Option<String> {
        let allowed = self.context.max_depth?;
        let openssl_chain = self
            .openssl_chain()
            .filter(|(_, reached)| *reached && reader == Reader::OpenSsl);
        let intermediates = match openssl_chain {
            Some((chain, _)) => chain.len().saturating_sub(2),
            None => self
                .path
                .iter()
                .skip(1)
                .filter(|cert| !is_anchor(cert, self.context))
                .filter(|cert| reader == Reader::OpenSsl || !is_self_issued(cert))
                .count(),
        };
        if intermediates <= allowed as usize {
            return None;
        }
        Some(match reader {
            Reader::OpenSsl => format!(
                "the chain to the root has {intermediate} intermediate CA(s), more than a verify depth of {allowed} allows (openssl verify: \"certificate chain too long\"; nginx proxy_ssl_verify_depth: \"unable to get issuer certificate\", or \"unable to get local issuer certificate\" with the root alone in its CA file)",
                intermediate = intermediates
            ),
            Reader::Strict => format!(
                "the path needs {intermediates} intermediate CA(s), more than --max-depth {allowed} allows"
            ),
        })
    }
}

/// Whose counting of intermediates `--max-depth` applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Reader {
    /// OpenSSL: every intermediate up to the self-signed root.
    OpenSsl,
    /// The strict reading: the logical CAs up to the trust anchor.
    Strict,
}
