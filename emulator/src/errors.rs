//! LiteLLM's error bodies: the proxy envelope, FastAPI `detail`, and 422 validation errors.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::app::sha256_hex;
use crate::config::ApiVersion;

/// Handlers return either response; both render as-is.
pub(crate) type HResult = Result<Response, Response>;

/// A JSON response with `status`.
pub(crate) fn json_response(status: StatusCode, body: Value) -> Response {
    (status, axum::Json(body)).into_response()
}

/// 200 with a JSON body.
pub(crate) fn ok(body: Value) -> HResult {
    Ok(json_response(StatusCode::OK, body))
}

/// `{"error":{"message","type","param","code"}}` with `code` as a string.
pub(crate) fn envelope(status: StatusCode, message: &str, typ: &str, param: Value) -> Response {
    json_response(
        status,
        json!({"error": {
            "message": message,
            "type": typ,
            "param": param,
            "code": status.as_u16().to_string(),
        }}),
    )
}

/// An `HTTPException` re-raised through `handle_exception_on_proxy`.
///
/// 1.80: type `internal_server_error`, param `"None"`. 1.109: as recorded from 1.106.2, type
/// `internal_server_error`, param null (the 1.109 source would say `invalid_request_error` for 4xx;
/// the recording wins).
pub(crate) fn http_exc(version: ApiVersion, status: StatusCode, message: &str) -> Response {
    let param = match version {
        ApiVersion::V1_80 => json!("None"),
        ApiVersion::V1_109 => Value::Null,
    };
    envelope(status, message, "internal_server_error", param)
}

/// [`http_exc`] whose detail was `{"error": msg}`, so the message is that dict's Python repr.
pub(crate) fn http_exc_dict(version: ApiVersion, status: StatusCode, msg: &str) -> Response {
    http_exc(version, status, &py_dict_error(msg))
}

/// FastAPI's raw `{"detail": ...}`.
pub(crate) fn detail(status: StatusCode, detail: Value) -> Response {
    json_response(status, json!({ "detail": detail }))
}

/// FastAPI's raw `{"detail": {"error": msg}}`.
pub(crate) fn detail_error(status: StatusCode, msg: &str) -> Response {
    detail(status, json!({ "error": msg }))
}

/// 422 with FastAPI's list of validation errors.
pub(crate) fn validation(errors: Vec<Value>) -> Response {
    detail(StatusCode::UNPROCESSABLE_ENTITY, Value::Array(errors))
}

/// One FastAPI/pydantic validation error entry.
pub(crate) fn verr(typ: &str, loc: Value, msg: &str, input: Value, ctx: Option<Value>) -> Value {
    let mut v = json!({"type": typ, "loc": loc, "msg": msg, "input": input});
    if let Some(ctx) = ctx {
        v["ctx"] = ctx;
    }
    v
}

/// An RFC 9457 problem document (`application/problem+json`), as `/management/v1/*` sends.
pub(crate) fn problem(status: StatusCode, kind: &str, title: &str, detail: &str) -> Response {
    let body = json!({
        "type": format!("urn:litellm:error:{kind}"),
        "title": title,
        "status": status.as_u16(),
        "detail": detail,
    });
    let mut resp = json_response(status, body);
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/problem+json"),
    );
    resp
}

/// 422 problem for an invalid `/management/v1/*` body (file 39).
pub(crate) fn invalid_body(detail: &str) -> Response {
    problem(
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid-request-body",
        "Invalid request body",
        detail,
    )
}

/// 422 `{"detail":[{type,loc,msg}]}` of a model validator that needs an id or an email
/// (files 57, 70): the entries carry no `input`.
pub(crate) fn id_or_email_required() -> Response {
    validation(vec![json!({
        "type": "value_error",
        "loc": ["body"],
        "msg": "Value error, Either user id or user email must be provided",
    })])
}

/// The licence refusal of `/team/member_update` with `role: admin`: a bare-string `detail`
/// (file 59).
pub(crate) const PREMIUM_TEAM_ADMIN_UPDATE: &str = "Assigning team admins is a premium feature. You must be a LiteLLM Enterprise user to use this feature. If you have a license please set `LITELLM_LICENSE` in your env. Get a 7 day trial key here: https://www.litellm.ai/#trial. Pricing: https://www.litellm.ai/#pricing";

/// The licence refusal of `/team/member_add` with `role: admin`, inside `{"detail":{"error"}}`
/// (file 60; note the different link and the newline).
pub(crate) const PREMIUM_TEAM_ADMIN_ADD: &str = "Assigning team admins is a premium feature. You must be a LiteLLM Enterprise user to use this feature. If you have a license please set `LITELLM_LICENSE` in your env. Get a 7 day trial key here: https://www.litellm.ai/enterprise#trial. \nPricing: https://www.litellm.ai/#pricing";

/// FastAPI's 404 for an unknown route.
pub(crate) fn route_not_found() -> Response {
    detail(StatusCode::NOT_FOUND, json!("Not Found"))
}

/// FastAPI's 405.
pub(crate) fn method_not_allowed() -> Response {
    detail(StatusCode::METHOD_NOT_ALLOWED, json!("Method Not Allowed"))
}

/// 401 for a missing or unknown key. The message contains only the key's first three
/// characters, unless `echo` (leaky-proxy mode) is set.
pub(crate) fn auth_failed(key: Option<&str>, echo: bool) -> Response {
    let Some(key) = key.filter(|k| !k.is_empty()) else {
        return envelope(
            StatusCode::UNAUTHORIZED,
            "Authentication Error, No api key passed in.",
            "auth_error",
            json!("None"),
        );
    };
    let shown: String = if echo {
        key.to_string()
    } else {
        format!("{}...", key.chars().take(3).collect::<String>())
    };
    if !key.starts_with("sk-") {
        let msg = format!(
            "Authentication Error, LiteLLM Virtual Key expected. Received={shown}, expected to start with 'sk-'."
        );
        return envelope(StatusCode::UNAUTHORIZED, &msg, "auth_error", json!("None"));
    }
    let msg = format!(
        "Authentication Error, Invalid proxy server token passed. Received API Key = {shown}, Key Hash (Token) ={}. Unable to find token in cache or `LiteLLM_VerificationTokenTable`",
        sha256_hex(key)
    );
    envelope(
        StatusCode::UNAUTHORIZED,
        &msg,
        "token_not_found_in_db",
        json!("key"),
    )
}

/// 503 from admission control (`_overloaded_response`), with `retry-after`.
pub(crate) fn overloaded(in_flight: u64, queued: u64, retry_after_secs: u64) -> Response {
    let body = json!({"error": {
        "message": format!(
            "Worker at capacity: {in_flight} in-flight, {queued} queued requests. Retry later."
        ),
        "type": "overloaded_error",
        "code": "503",
    }});
    let mut resp = json_response(StatusCode::SERVICE_UNAVAILABLE, body);
    if let Ok(v) = HeaderValue::from_str(&retry_after_secs.to_string()) {
        resp.headers_mut().insert(header::RETRY_AFTER, v);
    }
    resp
}

/// An injected 500.
pub(crate) fn fault_500(version: ApiVersion, after_commit: bool) -> Response {
    let what = if after_commit {
        "Emulated fault: the write was committed but the response failed"
    } else {
        "Emulated fault: database write failed before commit"
    };
    http_exc_dict(version, StatusCode::INTERNAL_SERVER_ERROR, what)
}

/// Leaky-proxy mode: append ` Received API Key = <key>` to the error message of `resp`.
pub(crate) async fn echo_key(resp: Response, key: &str) -> Response {
    let (mut parts, body) = resp.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, 1 << 20).await else {
        return Response::from_parts(parts, axum::body::Body::empty());
    };
    let Ok(mut v) = serde_json::from_slice::<Value>(&bytes) else {
        return Response::from_parts(parts, axum::body::Body::from(bytes));
    };
    let suffix = format!(" Received API Key = {key}");
    for pointer in ["/error/message", "/detail/error", "/detail"] {
        if let Some(slot) = v.pointer_mut(pointer)
            && let Some(text) = slot.as_str()
        {
            *slot = Value::String(format!("{text}{suffix}"));
            break;
        }
    }
    let bytes = serde_json::to_vec(&v).unwrap_or_default();
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, axum::body::Body::from(bytes))
}

/// Python's `repr()` of a str.
pub(crate) fn py_repr(s: &str) -> String {
    let escaped = s.replace('\\', "\\\\");
    if s.contains('\'') && !s.contains('"') {
        format!("\"{escaped}\"")
    } else {
        format!("'{}'", escaped.replace('\'', "\\'"))
    }
}

/// Python's `str({'error': msg})`.
pub(crate) fn py_dict_error(msg: &str) -> String {
    format!("{{'error': {}}}", py_repr(msg))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repr_matches_python() {
        assert_eq!(
            py_dict_error("User with email a@b.c already exists"),
            "{'error': 'User with email a@b.c already exists'}"
        );
        assert_eq!(
            py_dict_error(
                "User id does not exist in 'LiteLLM_UserTable'. Fix this by creating user via `/user/new`."
            ),
            "{'error': \"User id does not exist in 'LiteLLM_UserTable'. Fix this by creating user via `/user/new`.\"}"
        );
        assert_eq!(py_repr("it's \"x\""), "'it\\'s \"x\"'");
    }
}
