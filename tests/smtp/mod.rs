//! A real SMTP server on loopback for the tests (mailin-embedded: the SMTP protocol, STARTTLS
//! with rustls, AUTH PLAIN/LOGIN), which keeps every message it accepts.
#![allow(dead_code)]

use std::net::TcpListener;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use mailin_embedded::response::{AUTH_OK, INVALID_CREDENTIALS, NO_MAILBOX, OK};
use mailin_embedded::{AuthMechanism, Handler, Response, Server, SslConfig};

/// One message the server accepted.
#[derive(Clone, Debug)]
pub struct Received {
    /// MAIL FROM.
    pub from: String,
    /// RCPT TO, each.
    pub to: Vec<String>,
    /// The message as sent (headers and body).
    pub data: String,
    /// The user name the session authenticated as, if it did.
    pub user: Option<String>,
}

impl Received {
    /// The value of a header, if present.
    pub fn header(&self, name: &str) -> Option<&str> {
        let head = self.data.split("\r\n\r\n").next().unwrap_or_default();
        head.lines().find_map(|line| {
            let (key, value) = line.split_once(':')?;
            key.eq_ignore_ascii_case(name).then(|| value.trim())
        })
    }

    /// The body (after the blank line).
    pub fn body(&self) -> &str {
        self.data.split_once("\r\n\r\n").map_or("", |(_, b)| b)
    }
}

/// How the server behaves.
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// Offer STARTTLS with a certificate for 127.0.0.1 and localhost from a private CA.
    pub starttls: bool,
    /// Require AUTH with this user name and password (mailin offers AUTH only after STARTTLS).
    pub login: Option<(String, String)>,
    /// Recipients refused at RCPT with 550.
    pub refuse: Vec<String>,
}

struct Shared {
    options: Options,
    messages: Mutex<Vec<Received>>,
}

#[derive(Clone)]
struct Recorder {
    shared: Arc<Shared>,
    user: Option<String>,
    current: Option<(Received, Vec<u8>)>,
}

impl Recorder {
    fn login(&mut self, user: &str, password: &str) -> Response {
        match &self.shared.options.login {
            Some((u, p)) if u == user && p == password => {
                self.user = Some(user.to_string());
                AUTH_OK
            }
            _ => INVALID_CREDENTIALS,
        }
    }
}

impl Handler for Recorder {
    fn rcpt(&mut self, to: &str) -> Response {
        let to = to.trim_matches(['<', '>']);
        if self.shared.options.refuse.iter().any(|r| r == to) {
            NO_MAILBOX
        } else {
            OK
        }
    }

    fn data_start(&mut self, _domain: &str, from: &str, _is8bit: bool, to: &[String]) -> Response {
        let received = Received {
            from: from.trim_matches(['<', '>']).to_string(),
            to: to
                .iter()
                .map(|t| t.trim_matches(['<', '>']).to_string())
                .collect(),
            data: String::new(),
            user: self.user.clone(),
        };
        self.current = Some((received, Vec::new()));
        OK
    }

    fn data(&mut self, buf: &[u8]) -> std::io::Result<()> {
        if let Some((_, data)) = &mut self.current {
            data.extend_from_slice(buf);
        }
        Ok(())
    }

    fn data_end(&mut self) -> Response {
        if let Some((mut received, data)) = self.current.take() {
            received.data = String::from_utf8_lossy(&data).into_owned();
            self.shared.messages.lock().unwrap().push(received);
        }
        OK
    }

    fn auth_plain(&mut self, _authz: &str, user: &str, password: &str) -> Response {
        self.login(user, password)
    }

    fn auth_login(&mut self, user: &str, password: &str) -> Response {
        self.login(user, password)
    }
}

/// A running SMTP server; it lives as long as the test process.
pub struct SmtpServer {
    /// The port on 127.0.0.1.
    pub port: u16,
    /// The private CA's certificate (PEM file), with STARTTLS.
    pub ca_cert: Option<PathBuf>,
    shared: Arc<Shared>,
    _dir: tempfile::TempDir,
}

impl SmtpServer {
    /// Starts a server on a free loopback port.
    pub fn start(options: Options) -> SmtpServer {
        let dir = tempfile::tempdir().expect("tempdir");
        let shared = Arc::new(Shared {
            options: options.clone(),
            messages: Mutex::new(Vec::new()),
        });
        let handler = Recorder {
            shared: Arc::clone(&shared),
            user: None,
            current: None,
        };
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let mut server = Server::new(handler);
        server
            .with_name("smtp.test")
            .with_num_threads(8)
            .with_tcp_listener(listener);
        let mut ca_cert = None;
        if options.starttls {
            // The test binary links rustls with two crypto providers: choose one.
            let _ = rustls::crypto::ring::default_provider().install_default();
            let certs = Certs::generate();
            let write = |name: &str, text: &str| {
                let path = dir.path().join(name);
                std::fs::write(&path, text).expect("write PEM");
                path
            };
            let cert = write("server.pem", &certs.server_pem);
            let key = write("server.key", &certs.server_key_pem);
            ca_cert = Some(write("ca.pem", &certs.ca_pem));
            server
                .with_ssl(SslConfig::SelfSigned {
                    cert_path: cert.display().to_string(),
                    key_path: key.display().to_string(),
                })
                .expect("TLS set-up");
        }
        if options.login.is_some() {
            server
                .with_auth(AuthMechanism::Plain)
                .with_auth(AuthMechanism::Login);
        }
        std::thread::spawn(move || {
            if let Err(e) = server.serve() {
                eprintln!("test SMTP server stopped: {e}");
            }
        });
        SmtpServer {
            port,
            ca_cert,
            shared,
            _dir: dir,
        }
    }

    /// Every message accepted so far.
    pub fn messages(&self) -> Vec<Received> {
        self.shared.messages.lock().unwrap().clone()
    }

    /// The messages sent to `email`.
    pub fn messages_to(&self, email: &str) -> Vec<Received> {
        self.messages()
            .into_iter()
            .filter(|m| m.to.iter().any(|t| t == email))
            .collect()
    }
}

/// A private CA and a server certificate it signed, for 127.0.0.1 and localhost.
struct Certs {
    ca_pem: String,
    server_pem: String,
    server_key_pem: String,
}

impl Certs {
    fn generate() -> Certs {
        use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "onboard test CA");
        let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().expect("CA key"))
            .expect("CA certificate");
        let key = KeyPair::generate().expect("server key");
        let params = CertificateParams::new(vec!["127.0.0.1".to_string(), "localhost".to_string()])
            .expect("server params");
        let cert = params.signed_by(&key, &ca).expect("server certificate");
        Certs {
            ca_pem: ca.pem(),
            server_pem: cert.pem(),
            server_key_pem: key.serialize_pem(),
        }
    }
}
