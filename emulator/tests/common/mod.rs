//! Shared helpers for the emulator's integration tests.
#![allow(dead_code)]

use litellm_emulator::{Emulator, EmulatorConfig};
use serde_json::Value;

/// A tiny JSON client bound to one emulator.
#[derive(Clone)]
pub struct Api {
    pub http: reqwest::Client,
    pub base: String,
    pub key: String,
}

impl Api {
    pub fn new(emu: &Emulator) -> Api {
        Api {
            http: reqwest::Client::new(),
            base: emu.url(),
            key: emu.master_key().to_string(),
        }
    }

    pub fn with_key(mut self, key: &str) -> Api {
        self.key = key.to_string();
        self
    }

    async fn send(&self, req: reqwest::RequestBuilder) -> (u16, Value) {
        let resp = req
            .bearer_auth(&self.key)
            .send()
            .await
            .expect("request failed");
        let status = resp.status().as_u16();
        let text = resp.text().await.expect("body");
        let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
        (status, body)
    }

    pub async fn get(&self, path: &str) -> (u16, Value) {
        self.send(self.http.get(format!("{}{path}", self.base)))
            .await
    }

    pub async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        self.send(self.http.post(format!("{}{path}", self.base)).json(&body))
            .await
    }

    /// POST /user/new for `email` as an internal_user without a key; returns (status, body).
    pub async fn new_user(&self, email: &str) -> (u16, Value) {
        let body = serde_json::json!({
            "user_email": email, "user_role": "internal_user", "auto_create_key": false
        });
        self.post("/user/new", body).await
    }
}

pub async fn start(cfg: EmulatorConfig) -> (Emulator, Api) {
    let emu = Emulator::start(cfg).await.expect("emulator starts");
    let api = Api::new(&emu);
    (emu, api)
}
