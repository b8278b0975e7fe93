//! Onboarding links: `<proxy>[<server_root_path>]/ui/onboarding?invitation_id=<id>`.

use url::Url;

use crate::types::InvitationId;

/// Builds onboarding links for one proxy.
#[derive(Clone, Debug)]
pub struct Links {
    page: Url,
}

impl Links {
    /// Links under `proxy` (its path prefix kept), adding the proxy's `server_root_path`
    /// unless the URL already ends with it.
    pub fn new(proxy: &Url, server_root_path: Option<&str>) -> Self {
        let mut path = proxy.path().trim_end_matches('/').to_string();
        if let Some(root) = server_root_path
            .map(|r| r.trim_matches('/'))
            .filter(|r| !r.is_empty())
        {
            let root = format!("/{root}");
            if !path.ends_with(&root) {
                path.push_str(&root);
            }
        }
        let mut page = proxy.clone();
        page.set_path(&format!("{path}/ui/onboarding"));
        page.set_query(None);
        page.set_fragment(None);
        Links { page }
    }

    /// What SSO users are handed instead of an invitation link (as the admin UI does):
    /// `<proxy>[<server_root_path>]/ui`.
    pub fn sso(&self) -> String {
        let mut url = self.page.clone();
        let path = url.path().trim_end_matches("/onboarding").to_string();
        url.set_path(&path);
        url.into()
    }

    /// The admin UI's page the links open under: `<proxy>[<server_root_path>]/ui/`.
    pub fn ui(&self) -> url::Url {
        let mut url = self.page.clone();
        let path = url.path().trim_end_matches("onboarding").to_string();
        url.set_path(&path);
        url
    }

    /// The link for an invitation. The parameter is `invitation_id`: the UI ignores `id`.
    pub fn link(&self, id: &InvitationId) -> String {
        let mut url = self.page.clone();
        url.query_pairs_mut()
            .append_pair("invitation_id", id.as_str());
        url.into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn link(proxy: &str, root: Option<&str>) -> String {
        Links::new(&Url::parse(proxy).unwrap(), root).link(&InvitationId::new("abc-123"))
    }

    #[test]
    fn plain_prefixed_and_rooted_proxies() {
        assert_eq!(
            link("https://p.example.com", None),
            "https://p.example.com/ui/onboarding?invitation_id=abc-123"
        );
        assert_eq!(
            link("https://p.example.com/", Some("/")),
            "https://p.example.com/ui/onboarding?invitation_id=abc-123"
        );
        assert_eq!(
            link("https://h.example.com/litellm/", None),
            "https://h.example.com/litellm/ui/onboarding?invitation_id=abc-123"
        );
        assert_eq!(
            link("https://h.example.com", Some("/litellm")),
            "https://h.example.com/litellm/ui/onboarding?invitation_id=abc-123"
        );
        assert_eq!(
            link("https://h.example.com/litellm", Some("/litellm")),
            "https://h.example.com/litellm/ui/onboarding?invitation_id=abc-123"
        );
    }

    #[test]
    fn the_ui_page_is_where_the_links_open() {
        let proxy = Url::parse("https://h.example.com").unwrap();
        let links = Links::new(&proxy, Some("/litellm"));
        assert_eq!(links.ui().as_str(), "https://h.example.com/litellm/ui/");
        let links = Links::new(&proxy, None);
        assert_eq!(links.ui().as_str(), "https://h.example.com/ui/");
    }
}
