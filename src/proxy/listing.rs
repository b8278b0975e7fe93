//! Listings read exactly. `/user/list` pages in `created_at` order by default, and users made
//! by one bulk request share a `created_at`: the real proxy then returns such ties in any order
//! from one page to the next, so a listing misses some users and repeats others
//! (`litellm-observed/scale/user_list_paging.json`). A listing therefore pages by a unique key
//! where the proxy takes one, keeps each id once, and checks the count against the proxy's
//! `total`; a listing that still disagrees is read again, then refused.

use std::collections::HashSet;

use reqwest::Method;

use crate::proxy::api::Page;
use crate::proxy::client::ProxyClient;
use crate::proxy::error::ProxyError;

/// How many times a listing is read before a count that disagrees with `total` is an error.
pub const READINGS: u32 = 2;

/// The ids one reading of a listing has seen, and the total the proxy reported.
#[derive(Debug, Default)]
pub struct Distinct {
    seen: HashSet<String>,
    total: Option<u64>,
}

impl Distinct {
    /// True the first time `id` is seen in this reading.
    pub fn first(&mut self, id: &str) -> bool {
        !self.seen.contains(id) && self.seen.insert(id.to_owned())
    }

    /// Notes the total a page reported (the largest, should pages disagree).
    pub fn total(&mut self, total: Option<u64>) {
        if let Some(total) = total {
            self.total = Some(self.total.map_or(total, |t| t.max(total)));
        }
    }

    /// How many distinct rows were seen.
    pub fn seen(&self) -> u64 {
        self.seen.len() as u64
    }

    /// Ok when the reading saw exactly as many distinct rows as the proxy counts.
    pub fn check(&self, path: &'static str) -> Result<(), ProxyError> {
        match self.total {
            Some(total) if total != self.seen() => Err(ProxyError::Incomplete {
                path,
                seen: self.seen(),
                total,
            }),
            _ => Ok(()),
        }
    }
}

impl ProxyClient {
    /// Every row of a listing filtered by `filter` for which `keep` holds, each once: paged by
    /// the listing's unique key (unsorted where the proxy refuses the key with a 400), read
    /// again when the distinct count disagrees with the proxy's `total`, then refused.
    pub(super) async fn all_pages<P: Page>(
        &self,
        path: &'static str,
        filter: (&str, &str),
        keep: impl Fn(&P::Row) -> bool,
    ) -> Result<Vec<P::Row>, ProxyError> {
        let mut sort = P::SORT;
        let mut readings = 0;
        'reading: loop {
            readings += 1;
            let mut distinct = Distinct::default();
            let mut found = Vec::new();
            for page in 1u64.. {
                let page_text = page.to_string();
                let mut query = vec![filter, ("page", page_text.as_str()), ("page_size", "100")];
                query.extend_from_slice(sort);
                let list = match self.send::<P>(Method::GET, path, &query, None).await {
                    Err(ProxyError::Status { status: 400, .. })
                        if page == 1 && !sort.is_empty() =>
                    {
                        tracing::info!(
                            "{path}: the proxy refuses the sort key; its own order, checked"
                        );
                        sort = &[];
                        readings -= 1;
                        continue 'reading;
                    }
                    answer => answer?,
                };
                let (rows, pages, total) = list.into_rows();
                distinct.total(total);
                let done = rows.len() < 100 || pages.is_none_or(|pages| page >= pages);
                found.extend(
                    rows.into_iter()
                        .filter(|row| distinct.first(P::id(row)) && keep(row)),
                );
                if done {
                    break;
                }
            }
            match distinct.check(path) {
                Err(e) if readings >= READINGS => return Err(e),
                Err(e) => tracing::info!("{e}; reading it again"),
                Ok(()) => return Ok(found),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_row_seen_twice_counts_once_and_a_short_count_is_refused() {
        let mut d = Distinct::default();
        d.total(Some(3));
        assert!(d.first("a"));
        assert!(d.first("b"));
        assert!(!d.first("a"));
        assert_eq!(d.seen(), 2);
        let err = d.check("user/list").unwrap_err();
        assert!(matches!(
            err,
            ProxyError::Incomplete {
                seen: 2,
                total: 3,
                ..
            }
        ));
        assert!(d.first("c"));
        assert!(d.check("user/list").is_ok());
    }

    #[test]
    fn no_total_means_nothing_to_check() {
        let mut d = Distinct::default();
        d.first("a");
        assert!(d.check("v2/team/list").is_ok());
    }
}
