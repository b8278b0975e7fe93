//! Ctrl-C and SIGTERM: the first asks the run to stop starting people, the second to stop now.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use tokio::sync::watch;

/// Counts the stop signals received.
#[derive(Clone, Debug)]
pub struct Shutdown {
    signals: watch::Receiver<u32>,
    hurry: Arc<AtomicBool>,
}

impl Shutdown {
    /// Listens for Ctrl-C and (on Unix) SIGTERM. Needs a running tokio runtime.
    pub fn install() -> Self {
        let (tx, rx) = watch::channel(0u32);
        tokio::spawn(async move {
            #[cfg(unix)]
            let mut term =
                tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
            loop {
                #[cfg(unix)]
                let term_signal = async {
                    match term.as_mut() {
                        Some(t) => {
                            t.recv().await;
                        }
                        None => std::future::pending().await,
                    }
                };
                #[cfg(not(unix))]
                let term_signal = std::future::pending::<()>();
                tokio::select! {
                    result = tokio::signal::ctrl_c() => if result.is_err() { return },
                    () = term_signal => {}
                }
                tx.send_modify(|count| *count += 1);
            }
        });
        Shutdown {
            signals: rx,
            hurry: Arc::default(),
        }
    }

    /// A shutdown that never comes (for tests and one-shot calls).
    pub fn never() -> Self {
        let (tx, rx) = watch::channel(0u32);
        std::mem::forget(tx);
        Shutdown {
            signals: rx,
            hurry: Arc::default(),
        }
    }

    /// A shutdown whose signals a test sends (the count of signals so far).
    #[cfg(test)]
    pub(crate) fn manual() -> (watch::Sender<u32>, Self) {
        let (tx, rx) = watch::channel(0u32);
        let shutdown = Shutdown {
            signals: rx,
            hurry: Arc::default(),
        };
        (tx, shutdown)
    }

    /// True once a stop was asked for.
    pub fn is_requested(&self) -> bool {
        *self.signals.borrow() >= 1
    }

    /// True once a second signal came, or the grace period after the first ran out: no
    /// further request may be sent (those in flight finish and are recorded).
    pub fn is_hurried(&self) -> bool {
        *self.signals.borrow() >= 2 || self.hurry.load(Ordering::SeqCst)
    }

    /// The grace period after the first signal ran out: send no further request.
    pub fn hurry(&self) {
        self.hurry.store(true, Ordering::SeqCst);
    }

    /// Runs `work` unless a stop is asked for first (then `None`, and `work` is dropped).
    pub async fn unless_requested<T>(
        &self,
        work: impl std::future::Future<Output = T>,
    ) -> Option<T> {
        tokio::select! {
            biased;
            () = self.requested() => None,
            done = work => Some(done),
        }
    }

    /// Resolves when the first stop signal has arrived.
    pub async fn requested(&self) {
        self.at_least(1).await;
    }

    /// Resolves when a second stop signal has arrived.
    pub async fn forced(&self) {
        self.at_least(2).await;
    }

    async fn at_least(&self, n: u32) {
        let mut rx = self.signals.clone();
        if rx.wait_for(|count| *count >= n).await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}
