//! Go's own readings where they differ from webpki's: a leading-period DNS constraint,
//! and a root of the pool outside its validity (Go tries another path).

use super::*;

impl Examined<'_> {
    /// Go's reading of a leading-period DNS constraint (subdomains only) refusing a name
    /// of the leaf — or of the constraining CA itself: Go checks a CA's constraints
    /// against its own SANs too.
    pub(super) fn go_leading_period_refusal(&self) -> Option<String> {
        self.path.iter().skip(1).find_map(|ca| {
            let names: Vec<String> = self.leaf.dns_names.iter().chain(&ca.dns_names).cloned().collect();
            let name = rules::go_leading_period_refusal(ca, &names)?;
            Some(format!(
                "Go clients (Rancher agents, kubectl) read the nameConstraints of '{}' as subdomains only: \"x509: a root or intermediate certificate is not authorized to sign for this name: DNS name \"{name}\" is not permitted by any constraint\"",
                ca.subject
            ))
        })
    }

    /// Go never ends a chain at a root of its pool that is outside its validity: it tries
    /// the other candidates. Whether a path exists with only the CA file's certificates
    /// valid at the time of judgement as anchors (webpki checks the others' dates).
    pub(in crate::checks) fn go_finds_a_valid_path(&self) -> bool {
        let Some(ca) = &self.context.ca else {
            return false;
        };
        let at = self.context.at;
        let valid_anchors: Vec<TrustAnchor<'static>> = ca
            .certs
            .iter()
            .filter(|cert| cert.valid_at(at))
            .filter_map(|cert| webpki::anchor_from_trusted_cert(cert.der()).ok())
            .map(|anchor| anchor.to_owned())
            .collect();
        let Ok((used, _)) = webpki_verify(self.leaf, &self.intermediates, &valid_anchors, at)
        else {
            return false;
        };
        // webpki compares whole seconds; Go does not.
        let all = std::iter::once(self.leaf).chain(
            self.certs
                .iter()
                .chain(&self.context.untrusted)
                .filter(|cert| used.iter().any(|der| der.as_slice() == cert.der().as_ref())),
        );
        all.into_iter().all(|cert| cert.valid_at(at))
    }
}

impl Examined<'_> {
    /// The trust anchor's pathLen, which webpki does not read and Go does: the chain ends
    /// at a root of the pool whose basicConstraints allow fewer intermediates below it
    /// than the chain has (Go counts self-issued ones too).
    pub(super) fn go_anchor_pathlen_refusal(&self) -> Option<String> {
        if self.verified.is_err() || self.path.len() < 3 {
            return None;
        }
        let anchor = self
            .path
            .last()
            .filter(|top| is_anchor(top, self.context))?;
        let limit = anchor.path_len?;
        let below = self.path.len() - 2;
        (below > limit as usize).then(|| {
            format!(
                "'{}' allows {limit} intermediate CA(s) below it (pathlen), and the chain has {below}: Go clients (Rancher agents, kubectl) refuse it (\"x509: too many intermediates for path length constraint\")",
                anchor.subject
            )
        })
    }
}
