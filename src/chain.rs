//! Order and complete certificate chains, for `rcert fullchain` (and verify's order check).
//!
//! Certificates may come in any order, with duplicates, roots and unrelated
//! certificates. A link `child → issuer` is accepted only when the issuer's
//! subject equals the child's issuer name, the key identifiers agree (when both
//! are present) and the child's signature verifies with the issuer's key.

use serde::Serialize;

use crate::x509::cert::{Cert, Dated};

/// A chain built from a pool of certificates (shown as JSON through
/// [`Dated<BuiltChain>`], which counts each certificate's days left).
#[derive(Debug)]
pub struct BuiltChain {
    /// Leaf first, then each issuer in turn (the root last, when it was given).
    pub chain: Vec<Cert>,
    /// Whether the chain ends in a self-signed root that was among the inputs.
    pub has_root: bool,
    /// When the chain is incomplete: the issuer name nobody in the pool matches.
    pub missing_issuer: Option<MissingIssuer>,
    /// Certificates that are not part of the chain.
    pub unrelated: Vec<Cert>,
    /// How many duplicate copies were dropped.
    pub duplicates: usize,
}

/// The JSON of a built chain: its certificates with the days left at the time shown.
#[derive(Serialize)]
struct BuiltChainJson<'a> {
    chain: Dated<&'a [Cert]>,
    has_root: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    missing_issuer: &'a Option<MissingIssuer>,
    unrelated: Dated<&'a [Cert]>,
    duplicates: usize,
}

impl Serialize for Dated<BuiltChain> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        BuiltChainJson {
            chain: Dated::new(&self.chain, self.at),
            has_root: self.has_root,
            missing_issuer: &self.missing_issuer,
            unrelated: Dated::new(&self.unrelated, self.at),
            duplicates: self.duplicates,
        }
        .serialize(serializer)
    }
}

/// The link a chain lacks.
#[derive(Debug, Clone, Serialize)]
pub struct MissingIssuer {
    /// Subject of the last certificate the chain reached.
    pub last_subject: String,
    /// The issuer name that certificate names, which no input provides.
    pub issuer: String,
    /// Whether that issuer is a root in the Mozilla store (webpki-roots): then the
    /// chain is complete for a public CA.
    pub public_root: bool,
}

impl BuiltChain {
    /// The leaf and intermediates: what belongs in `tls.crt`.
    pub fn served(&self) -> &[Cert] {
        if self.has_root && self.chain.len() > 1 {
            &self.chain[..self.chain.len() - 1]
        } else {
            &self.chain
        }
    }

    /// The root of the chain, when it was given.
    pub fn root(&self) -> Option<&Cert> {
        if self.has_root {
            self.chain.last()
        } else {
            None
        }
    }

    /// What `cacerts.pem` holds for this chain, as Rancher's docs ask: the
    /// intermediate(s) then the root (the root alone when the leaf was issued by it).
    /// None without a root.
    pub fn ca_file_pem(&self) -> Option<String> {
        self.root()?;
        Some(ca_file_pem(&self.chain[1..]))
    }
}

/// The issuers above a leaf (intermediates, then the root) as `cacerts.pem` text.
pub fn ca_file_pem(issuers: &[Cert]) -> String {
    issuers.iter().map(Cert::pem).collect()
}

impl BuiltChain {
    /// How many intermediates sit between the leaf and the root.
    pub fn intermediates(&self) -> usize {
        self.chain
            .len()
            .saturating_sub(1 + usize::from(self.has_root))
    }
}

/// Drop byte-identical duplicates, keeping the first copy; returns how many were dropped.
pub fn dedup(certs: &mut Vec<Cert>) -> usize {
    let before = certs.len();
    let mut seen = std::collections::HashSet::new();
    certs.retain(|cert| seen.insert(cert.der().to_vec()));
    before - certs.len()
}

/// The issuer of `cert` among `pool`, if any (never `cert` itself).
pub fn find_issuer<'a>(cert: &Cert, pool: &'a [Cert]) -> Option<&'a Cert> {
    pool.iter()
        .find(|candidate| candidate.der() != cert.der() && cert.is_issued_by(candidate))
}

/// Build the longest chain from the pool: leaf → intermediates → root.
pub fn build(mut certs: Vec<Cert>) -> BuiltChain {
    let duplicates = dedup(&mut certs);
    let leaf_index = pick_leaf(&certs);
    let Some(leaf_index) = leaf_index else {
        return BuiltChain {
            chain: Vec::new(),
            has_root: false,
            missing_issuer: None,
            unrelated: certs,
            duplicates,
        };
    };
    let chain = chain_from(&certs[leaf_index], &certs);
    let in_chain = |cert: &Cert| chain.iter().any(|link| link.der() == cert.der());
    let unrelated = certs.iter().filter(|c| !in_chain(c)).cloned().collect();
    let top = chain.last().cloned();
    let has_root = top.as_ref().is_some_and(|cert| cert.self_signed);
    let missing_issuer = top.filter(|_| !has_root).map(|cert| MissingIssuer {
        public_root: is_public_root_name(&cert.raw_issuer),
        last_subject: cert.subject.clone(),
        issuer: cert.issuer.clone(),
    });
    BuiltChain {
        chain,
        has_root,
        missing_issuer,
        unrelated,
        duplicates,
    }
}

/// Follow issuers from `start` through `pool` (bounded: no cert is used twice).
pub fn chain_from(start: &Cert, pool: &[Cert]) -> Vec<Cert> {
    let mut chain = vec![start.clone()];
    while chain.len() <= pool.len() {
        let Some(last) = chain.last() else { break };
        if last.self_signed {
            break;
        }
        match find_issuer(last, pool) {
            Some(issuer) if !chain.iter().any(|c| c.der() == issuer.der()) => {
                chain.push(issuer.clone())
            }
            _ => break,
        }
    }
    chain
}

/// The leaf: the end-entity (non-CA) certificate with the longest chain; ties go to
/// the first given.
fn pick_leaf(certs: &[Cert]) -> Option<usize> {
    let mut best: Option<(usize, usize)> = None;
    for (index, cert) in certs.iter().enumerate().filter(|(_, cert)| !cert.is_ca) {
        let length = chain_from(cert, certs).len();
        if best.is_none_or(|(_, best_length)| length > best_length) {
            best = Some((index, length));
        }
    }
    best.map(|(index, _)| index)
}

/// Whether a raw (DER) subject name belongs to a root in webpki-roots.
pub fn is_public_root_name(raw_name: &[u8]) -> bool {
    let Some(inner) = name_contents(raw_name) else {
        return false;
    };
    webpki_roots::TLS_SERVER_ROOTS
        .iter()
        .any(|anchor| anchor.subject.as_ref() == inner)
}

/// A DER name without its outer SEQUENCE header: the form webpki and webpki-roots
/// store trust anchor subjects in.
pub fn name_contents(der: &[u8]) -> Option<&[u8]> {
    if der.first() != Some(&0x30) {
        return None;
    }
    let first_length = *der.get(1)?;
    let header = if first_length < 0x80 {
        2
    } else {
        2 + usize::from(first_length & 0x7f)
    };
    der.get(header..)
}
