//! An API's rate-limit headers: the requests left in its window and when
//! the window resets. GitHub, GitLab, Twitter and the IETF draft
//! (`RateLimit-Remaining`, `RateLimit-Reset`) each spell them their way.
//! A limit that is spent is waited out, before the next request where a
//! success says so, and before sending again a 403 or 429 that says so.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use http::HeaderMap;

/// The headers read, each spelling's `…remaining`, `…reset` and
/// Discord's `…reset-after`. The IETF draft's come first: where a server
/// sends both (express-rate-limit), its reset in seconds from now is finer
/// than a Unix time's whole seconds.
const SPELLINGS: [[&str; 3]; 3] = [
    [
        "ratelimit-remaining",
        "ratelimit-reset",
        "ratelimit-reset-after",
    ],
    [
        "x-ratelimit-remaining",
        "x-ratelimit-reset",
        "x-ratelimit-reset-after",
    ],
    [
        "x-rate-limit-remaining",
        "x-rate-limit-reset",
        "x-rate-limit-reset-after",
    ],
];

/// A reset this large is a time (Unix seconds: GitHub, GitLab, Twitter);
/// below it, seconds from now (the IETF draft).
const EPOCH_SECONDS: f64 = 1e9;

/// A spent rate limit: how long until it resets, and the header that said
/// no request is left.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Spent {
    pub wait: Duration,
    pub header: String,
}

/// The wait until the rate limit resets, where `headers` say that no
/// request is left in it (`…-Remaining: 0`) and when it resets. A reset
/// past is no wait; a limit that says nothing of its reset is `None`.
pub(crate) fn spent(headers: &HeaderMap, now: SystemTime) -> Option<Spent> {
    SPELLINGS
        .iter()
        .find_map(|[remaining, reset_at, reset_after]| {
            if text(headers, remaining)?.parse::<f64>().ok()? > 0.0 {
                return None;
            }
            let wait = match text(headers, reset_after) {
                Some(after) => seconds(after.parse().ok()?),
                None => reset(text(headers, reset_at)?, now)?,
            };
            Some(Spent {
                wait,
                header: (*remaining).to_owned(),
            })
        })
}

fn text<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    Some(headers.get(name)?.to_str().ok()?.trim())
}

/// The wait a `…-Reset` value asks for: until a Unix time (a second more,
/// for the clocks to agree on it), or a number of seconds.
fn reset(value: &str, now: SystemTime) -> Option<Duration> {
    let number: f64 = value.parse().ok()?;
    if number < EPOCH_SECONDS {
        return Some(seconds(number));
    }
    let at = UNIX_EPOCH + seconds(number) + Duration::from_secs(1);
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

/// A number of seconds as a wait: none below zero, and one too long to
/// hold as long as any (longer than any `max_retry_wait`).
fn seconds(number: f64) -> Duration {
    match number > 0.0 {
        true => Duration::try_from_secs_f64(number).unwrap_or(Duration::MAX),
        false => Duration::ZERO,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(*name, value.parse().unwrap());
        }
        map
    }

    #[test]
    fn each_spelling_of_a_spent_limit_gives_its_wait() {
        let now = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let wait = |pairs: &[(&'static str, &str)]| spent(&headers(pairs), now).map(|s| s.wait);
        // GitHub and Twitter: a Unix time, waited past by a second.
        let github = [
            ("x-ratelimit-remaining", "0"),
            ("x-ratelimit-reset", "1700000030"),
        ];
        assert_eq!(wait(&github), Some(Duration::from_secs(31)));
        let twitter = [
            ("x-rate-limit-remaining", "0"),
            ("x-rate-limit-reset", "1700000005"),
        ];
        assert_eq!(wait(&twitter), Some(Duration::from_secs(6)));
        // The IETF draft: seconds from now; Discord's `reset-after`.
        let draft = [("ratelimit-remaining", "0"), ("ratelimit-reset", "12")];
        assert_eq!(wait(&draft), Some(Duration::from_secs(12)));
        let discord = [
            ("x-ratelimit-remaining", "0"),
            ("x-ratelimit-reset", "1700000999"),
            ("x-ratelimit-reset-after", "1.5"),
        ];
        assert_eq!(wait(&discord), Some(Duration::from_millis(1500)));
        // A reset past is no wait; requests left, or no reset said, none.
        let past = [
            ("x-ratelimit-remaining", "0"),
            ("x-ratelimit-reset", "1600000000"),
        ];
        assert_eq!(wait(&past), Some(Duration::ZERO));
        let left = [
            ("x-ratelimit-remaining", "7"),
            ("x-ratelimit-reset", "1700000030"),
        ];
        assert_eq!(wait(&left), None);
        assert_eq!(wait(&[("x-ratelimit-remaining", "0")]), None);
        let said = spent(&headers(&github), now).unwrap().header;
        assert_eq!(said, "x-ratelimit-remaining");
        // Both spellings (express-rate-limit): the draft's, finer.
        let both = [
            ("x-ratelimit-remaining", "0"),
            ("x-ratelimit-reset", "1700000002"),
            ("ratelimit-remaining", "0"),
            ("ratelimit-reset", "2"),
        ];
        assert_eq!(wait(&both), Some(Duration::from_secs(2)));
    }
}
