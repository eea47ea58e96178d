//! Certificates as shown at the time of judgement: [`Dated`] pairs a certificate (or a
//! chain) with the instant its days left are counted from, so no clock is read when a
//! certificate is parsed.

use serde::Serialize;
use time::OffsetDateTime;

use super::cert::Cert;

/// Certificates as shown at the time of judgement (`--at` or the run's one "now", taken
/// in `cli`): a [`Cert`] or a chain of them, each serialised with `days_left` counted
/// from `at`. Dereferences to what it holds, so a dated chain is still a `&[Cert]`.
#[derive(Debug, Clone)]
pub struct Dated<T> {
    /// The time the days are counted from.
    pub at: OffsetDateTime,
    /// The certificate(s).
    pub inner: T,
}

impl<T> Dated<T> {
    /// `inner` as seen at `at`.
    pub fn new(inner: T, at: OffsetDateTime) -> Self {
        Dated { at, inner }
    }
}

impl<T> std::ops::Deref for Dated<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.inner
    }
}

impl<'a, T> IntoIterator for &'a Dated<Vec<T>> {
    type Item = &'a T;
    type IntoIter = std::slice::Iter<'a, T>;
    fn into_iter(self) -> Self::IntoIter {
        self.inner.iter()
    }
}

/// One certificate's JSON: its facts and the days left at the time of judgement.
#[derive(Serialize)]
struct CertAt<'a> {
    #[serde(flatten)]
    cert: &'a Cert,
    days_left: i64,
}

impl Serialize for Dated<Cert> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        CertAt {
            cert: &self.inner,
            days_left: self.inner.days_left(self.at),
        }
        .serialize(serializer)
    }
}

impl Serialize for Dated<Vec<Cert>> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        Dated::new(self.inner.as_slice(), self.at).serialize(serializer)
    }
}

impl Serialize for Dated<&[Cert]> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.inner.iter().map(|cert| CertAt {
            cert,
            days_left: cert.days_left(self.at),
        }))
    }
}
