//! How long a fetched document (CIMD, JWKS) may be served from a cache (CIMD-21): the freshness
//! lifetime RFC 9111 gives the response, clamped to the configured bounds.

use std::time::{Duration, SystemTime};

use http_cache_semantics::{CacheOptions, CachePolicy};
use reqwest::header::{ACCEPT, HeaderMap, HeaderValue};

use crate::clock::UnixTime;

/// The cache lifetime of a 200 response to a GET of `url` with `headers`, received at
/// `now`: `Cache-Control` (`max-age`, `no-store`, `no-cache`, ...), then `Expires`,
/// judged as a shared cache would (one cache serves every user); no heuristic
/// freshness; the result clamped to `[min, max]`. A response that forbids caching gets
/// `min`: the bounds are the operator's, and refetching on every request would let
/// one client's header make us hammer its host.
pub fn cache_lifetime(
    url: &url::Url,
    accept: &str,
    headers: &HeaderMap,
    now: UnixTime,
    min: Duration,
    max: Duration,
) -> Duration {
    let received = SystemTime::UNIX_EPOCH
        .checked_add(Duration::from_secs(u64::try_from(now).unwrap_or(0)))
        .unwrap_or(SystemTime::UNIX_EPOCH);
    let mut request = http::Request::new(());
    if let Ok(uri) = url.as_str().parse::<http::Uri>() {
        *request.uri_mut() = uri;
    }
    if let Ok(value) = HeaderValue::from_str(accept) {
        request.headers_mut().insert(ACCEPT, value);
    }
    let mut response = http::Response::new(());
    *response.headers_mut() = headers.clone();
    let options = CacheOptions {
        shared: true,
        cache_heuristic: 0.0,
        ..CacheOptions::default()
    };
    let policy = CachePolicy::new_options(&request, &response, received, options);
    let fresh_for = if policy.is_storable() {
        policy.time_to_live(received)
    } else {
        Duration::ZERO
    };
    fresh_for.clamp(min, max)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use reqwest::header::{HeaderMap, HeaderValue};

    use super::cache_lifetime;

    const MIN: Duration = Duration::from_secs(300);
    const MAX: Duration = Duration::from_secs(86_400);
    const NOW: i64 = 1_788_253_200; // Tue, 01 Sep 2026 09:00:00 GMT

    fn lifetime(pairs: &[(&'static str, &'static str)]) -> Duration {
        let mut headers = HeaderMap::new();
        for (name, value) in pairs {
            headers.append(*name, HeaderValue::from_static(value));
        }
        let url = url::Url::parse("https://toolkit.example/client.json").unwrap();
        cache_lifetime(&url, "application/json", &headers, NOW, MIN, MAX)
    }

    #[test]
    fn cimd_21_max_age_is_honoured_within_bounds() {
        assert_eq!(
            lifetime(&[("cache-control", "max-age=3600")]),
            Duration::from_secs(3600)
        );
        assert_eq!(
            lifetime(&[("cache-control", "public, max-age=7200")]),
            Duration::from_secs(7200)
        );
        assert_eq!(lifetime(&[("cache-control", "max-age=60")]), MIN);
        assert_eq!(lifetime(&[("cache-control", "max-age=31536000")]), MAX);
        assert_eq!(
            lifetime(&[("cache-control", "s-maxage=1000, max-age=4000")]),
            Duration::from_secs(1000)
        );
        let aged = lifetime(&[("cache-control", "max-age=3600"), ("age", "600")]);
        assert_eq!(aged, Duration::from_secs(3000));
    }

    #[test]
    fn cimd_21_no_store_no_cache_and_missing_headers_get_the_minimum() {
        assert_eq!(lifetime(&[("cache-control", "no-store")]), MIN);
        assert_eq!(lifetime(&[("cache-control", "no-cache")]), MIN);
        assert_eq!(lifetime(&[]), MIN);
    }

    #[test]
    fn cimd_21_expires_is_used_without_max_age() {
        let two_hours = lifetime(&[
            ("date", "Tue, 01 Sep 2026 09:00:00 GMT"),
            ("expires", "Tue, 01 Sep 2026 11:00:00 GMT"),
        ]);
        assert_eq!(two_hours, Duration::from_secs(7200));
        assert_eq!(lifetime(&[("expires", "0")]), MIN);
    }
}
