//! Invitations a newer one replaced, and invitations whose answer was lost.
//!
//! The proxy cannot list invitations, so these are the only ways a second live link for a
//! person can exist: a superseded invitation whose delete failed (kept as pending in the
//! record's history and deleted by a later run), and an invitation `/invitation/new` made
//! although its answer never arrived (counted in the record; nobody has its link).

use std::future::Future;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::audit::record::Record;
use crate::proxy::ProxyError;
use crate::proxy::client::ProxyClient;
use crate::proxy::pacer::RetryPolicy;
use crate::types::InvitationId;

/// True when the proxy says an invitation is not there (deleted, or its user deleted).
pub fn is_gone(error: &ProxyError) -> bool {
    matches!(error, ProxyError::NotFound(_))
}

/// What the deletes of superseded invitations did for one person.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Cleanup {
    /// Deleted now (or found gone).
    pub deleted: u32,
    /// Expired while pending: no delete needed.
    pub expired: u32,
    /// Still pending: the delete failed again.
    pub pending: u32,
}

impl Cleanup {
    /// True when something was done or is still to do.
    pub fn is_empty(&self) -> bool {
        *self == Cleanup::default()
    }
}

/// Deletes the superseded invitation `id` of `record` (retrying under `retry`); a failure
/// leaves it pending in the record's history. True when it no longer works.
pub async fn delete(
    client: &ProxyClient,
    retry: &RetryPolicy,
    attempted: &mut impl FnMut(Duration),
    record: &mut Record,
    id: &InvitationId,
) -> bool {
    let result = client
        .retried(retry, || client.delete_invitation(id), &mut *attempted)
        .await;
    let outcome = match result {
        Ok(()) => Ok(()),
        Err(e) if is_gone(&e) => Ok(()),
        Err(e) => Err(e.to_string()),
    };
    let done = outcome.is_ok();
    record.note_delete(id, outcome, Utc::now());
    done
}

/// Runs one attempt of `/invitation/new`, counting in `lost` an ambiguous failure (the
/// invitation may have been made; its answer, and so its id, is lost).
pub async fn counting_lost<T>(
    lost: &AtomicU32,
    attempt: impl Future<Output = Result<T, ProxyError>>,
) -> Result<T, ProxyError> {
    let result = attempt.await;
    if let Err(e) = &result
        && e.is_ambiguous()
    {
        lost.fetch_add(1, Ordering::Relaxed);
    }
    result
}

/// The summary's line for `lost` answers of `/invitation/new`, which expire by `expire_by`.
pub fn lost_line(lost: u32, expire_by: Option<DateTime<Utc>>) -> Option<String> {
    let by = expire_by?;
    (lost > 0).then(|| {
        format!(
            "{lost} invitation(s) may exist whose answer was lost (nobody has their link); they expire by the end of {} UTC",
            by.format("%Y-%m-%d")
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn only_ambiguous_failures_count_as_lost() {
        let lost = AtomicU32::new(0);
        let answers = [
            ProxyError::from_response(500, "{}", None, &crate::types::MasterKey::new("sk-test")),
            ProxyError::from_response(503, "{}", None, &crate::types::MasterKey::new("sk-test")),
            ProxyError::from_response(400, "{}", None, &crate::types::MasterKey::new("sk-test")),
            ProxyError::Ambiguous("connection reset".into()),
        ];
        for answer in answers {
            let _ = counting_lost(&lost, async { Err::<(), _>(answer) }).await;
        }
        let _ = counting_lost(&lost, async { Ok::<_, ProxyError>(()) }).await;
        assert_eq!(lost.load(Ordering::Relaxed), 2);
    }

    #[test]
    fn the_lost_line_names_the_count_and_the_day() {
        use chrono::TimeZone;
        let by = Utc.with_ymd_and_hms(2026, 12, 7, 6, 0, 0).unwrap();
        assert_eq!(lost_line(0, Some(by)), None);
        assert_eq!(
            lost_line(3, Some(by)).unwrap(),
            "3 invitation(s) may exist whose answer was lost (nobody has their link); they expire by the end of 2026-12-07 UTC"
        );
    }
}
