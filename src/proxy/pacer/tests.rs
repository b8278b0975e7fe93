use super::*;

#[test]
fn a_rate_too_small_to_pace_by_does_not_panic() {
    for rate in [1e-20, f64::MIN_POSITIVE, f64::NAN, 0.0] {
        let pacer = Pacer::new(Arc::new(Limiter::adaptive(2, 64)), Some(rate));
        assert_eq!(pacer.rate_interval, None, "{rate}");
    }
    let pacer = Pacer::new(Arc::new(Limiter::adaptive(2, 64)), Some(4.0));
    assert_eq!(pacer.rate_interval, Some(Duration::from_millis(250)));
}

#[test]
fn adaptive_limit_rises_when_latency_holds() {
    let limiter = Limiter::adaptive(2, 64);
    for _ in 0..500 {
        limiter.sample(Duration::from_millis(20));
    }
    assert!(limiter.limit() > 30.0, "limit {}", limiter.limit());
}

#[test]
fn unsampled_jobs_go_four_at_a_time_while_the_adaptive_limit_is_low_but_never_past_a_fixed_one() {
    let adaptive = Arc::new(Limiter::adaptive(1, 64));
    let reads: Vec<_> = std::iter::from_fn(|| adaptive.try_acquire_as(true)).collect();
    assert_eq!(reads.len(), super::UNSAMPLED_IN_FLIGHT);
    drop(reads);
    let person = adaptive.try_acquire().expect("one person");
    assert!(
        adaptive.try_acquire().is_none(),
        "a limit of 1 holds one person"
    );
    drop(person);
    let fixed = Arc::new(Limiter::fixed(2));
    let reads: Vec<_> = std::iter::from_fn(|| fixed.try_acquire_as(true)).collect();
    assert_eq!(reads.len(), 2);
}

#[test]
fn on_a_proxy_with_one_worker_the_default_limit_stays_low() {
    // One worker: every request in flight beyond the first waits its turn.
    let limiter = Limiter::adaptive(crate::config::ADAPTIVE_START, 64);
    for _ in 0..1_000 {
        let in_flight = limiter.limit().floor().max(1.0);
        limiter.sample(Duration::from_millis(10).mul_f64(in_flight));
    }
    assert!(limiter.limit() < 3.0, "limit {}", limiter.limit());
}

#[test]
fn adaptive_limit_falls_when_latency_climbs() {
    let limiter = Limiter::adaptive(32, 64);
    limiter.sample(Duration::from_millis(10));
    for _ in 0..200 {
        limiter.sample(Duration::from_millis(80));
    }
    assert!(limiter.limit() < 16.0, "limit {}", limiter.limit());
}

#[test]
fn overload_backs_off_but_fixed_stays() {
    let adaptive = Limiter::adaptive(20, 64);
    adaptive.overloaded();
    assert!(adaptive.limit() < 20.0);
    let fixed = Limiter::fixed(8);
    fixed.overloaded();
    fixed.sample(Duration::from_secs(5));
    assert_eq!(fixed.limit(), 8.0);
}

#[tokio::test]
async fn a_retry_after_holds_every_request_and_a_stop_ends_the_wait() {
    let pacer = Pacer::new(Arc::new(Limiter::fixed(1)), None);
    let (signals, shutdown) = crate::shutdown::Shutdown::manual();
    pacer.stop_on(shutdown);
    let after = ProxyError::Unavailable {
        status: 503,
        message: String::new(),
        retry_after: Some(Duration::from_secs(30)),
    };
    pacer.observe(Duration::ZERO, Some(&after));
    let started = Instant::now();
    let waiting = tokio::time::timeout(Duration::from_millis(300), pacer.ready()).await;
    assert!(waiting.is_err(), "held by the retry-after");
    signals.send_replace(1);
    assert!(matches!(pacer.ready().await, Err(ProxyError::Interrupted)));
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "not held after the stop"
    );
}

#[tokio::test]
async fn fixed_limit_bounds_permits() {
    let limiter = Arc::new(Limiter::fixed(2));
    let a = limiter.acquire().await;
    let _b = limiter.acquire().await;
    let third = tokio::time::timeout(Duration::from_millis(50), limiter.acquire()).await;
    assert!(third.is_err(), "a third permit must wait");
    drop(a);
    let third = tokio::time::timeout(Duration::from_millis(500), limiter.acquire()).await;
    assert!(third.is_ok());
}
