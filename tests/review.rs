//! `gijiroku review` in a real browser: Debian's chromium driven over WebDriver
//! (chromedriver + fantoccini), against the real binary serving a real JSON and recording.
//! Plain HTTP checks (token, Host header, range requests, loopback only) use ureq.

mod common;

use std::io::{BufRead, BufReader, Read};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::key::Key;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::Value;

/// A folder with the committed review fixture (the JSON `transcribe` wrote for
/// samples/meeting.wav) and a copy of the recording, the JSON pointing at the copy.
fn workspace() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let wav = dir.path().join("会議.wav");
    std::fs::copy(common::sample("meeting.wav"), &wav).unwrap();
    let mut doc: Value =
        serde_json::from_slice(&std::fs::read(common::fixture("review/meeting.json")).unwrap())
            .unwrap();
    doc["audio"]["path"] = Value::from(wav.to_str().unwrap());
    let json = dir.path().join("会議.json");
    std::fs::write(&json, serde_json::to_vec_pretty(&doc).unwrap()).unwrap();
    (dir, json)
}

fn read_json(path: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

/// `gijiroku review` running; stopped with SIGINT on drop.
struct Server {
    child: Child,
    url: String,
    port: u16,
}

impl Server {
    fn start(json: &Path, extra: &[&str]) -> Server {
        let mut child = Command::new(env!("CARGO_BIN_EXE_gijiroku"))
            .args(["review", "--no-browser"])
            .arg(json)
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let url = line.trim().to_string();
        assert!(
            url.starts_with("http://127.0.0.1:") && url.contains("/?token="),
            "first stdout line is the URL, got {url:?}"
        );
        let port = url["http://127.0.0.1:".len()..]
            .split('/')
            .next()
            .unwrap()
            .parse()
            .unwrap();
        Server { child, url, port }
    }

    fn base(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// SIGINT, then the exit status and stderr.
    fn stop(mut self) -> (std::process::ExitStatus, String) {
        let sent = Command::new("kill")
            .args(["-INT", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(sent.success());
        let deadline = Instant::now() + Duration::from_secs(10);
        let status = loop {
            if let Some(s) = self.child.try_wait().unwrap() {
                break s;
            }
            assert!(Instant::now() < deadline, "review did not stop on Ctrl-C");
            std::thread::sleep(Duration::from_millis(50));
        };
        let mut err = String::new();
        self.child
            .stderr
            .take()
            .unwrap()
            .read_to_string(&mut err)
            .unwrap();
        (status, err)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// chromedriver on a free port, and a headless chromium session through it.
struct Browser {
    driver: Child,
    client: Client,
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl Browser {
    async fn open() -> Browser {
        let port = free_port();
        let driver = Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver (scripts/setup.sh installs chromium-driver)");
        let caps: serde_json::Map<String, Value> = serde_json::from_value(serde_json::json!({
            "goog:chromeOptions": {
                "binary": "/usr/bin/chromium",
                "args": ["--headless=new", "--no-sandbox", "--disable-gpu",
                         "--disable-dev-shm-usage", "--mute-audio",
                         "--autoplay-policy=no-user-gesture-required",
                         "--window-size=1280,900", "--lang=ja"]
            }
        }))
        .unwrap();
        let deadline = Instant::now() + Duration::from_secs(20);
        let client = loop {
            let connector = hyper_util::client::legacy::connect::HttpConnector::new();
            match ClientBuilder::new(connector)
                .capabilities(caps.clone())
                .connect(&format!("http://127.0.0.1:{port}"))
                .await
            {
                Ok(c) => break c,
                Err(e) if Instant::now() > deadline => panic!("chromedriver: {e}"),
                Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
            }
        };
        Browser { driver, client }
    }

    async fn close(mut self) {
        let _ = self.client.clone().close().await;
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }

    async fn js(&self, script: &str) -> Value {
        self.client.execute(script, vec![]).await.unwrap()
    }

    /// Opens the page and waits until the turns are drawn.
    async fn load(&self, url: &str) {
        self.client.goto(url).await.unwrap();
        self.wait_for("turns drawn", "return document.querySelectorAll('[data-turn]').length > 0 && document.querySelector('[data-field=save-state]').textContent === '保存済み'").await;
    }

    async fn wait_for(&self, what: &str, script: &str) {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            if self.js(script).await == Value::Bool(true) {
                return;
            }
            assert!(Instant::now() < deadline, "timed out waiting for {what}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Clicks the element `css` selects.
    async fn click(&self, css: &str) {
        self.client
            .find(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("{css}: {e}"))
            .click()
            .await
            .unwrap();
    }

    async fn save_state(&self) -> String {
        self.js("return document.querySelector('[data-field=save-state]').textContent")
            .await
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    async fn saved(&self) {
        self.wait_for(
            "保存済み",
            "return document.querySelector('[data-field=save-state]').textContent === '保存済み'",
        )
        .await;
    }

    async fn turn_texts(&self) -> Vec<(String, String)> {
        let v = self
            .js("return [...document.querySelectorAll('[data-turn]')].map(t => [t.querySelector('[data-field=speaker]').textContent.trim(), t.querySelector('[data-field=text]').textContent])")
            .await;
        serde_json::from_value(v).unwrap()
    }

    /// Clicks into turn `i`'s text, selects all of it and types `text` in its place.
    async fn retype(&self, i: usize, text: &str) {
        let el = self
            .client
            .find(Locator::Css(&format!(
                "[data-turn=\"{i}\"] [data-field=text]"
            )))
            .await
            .unwrap();
        el.click().await.unwrap();
        self.keys(&[key(Key::Control), "a".into()]).await;
        el.send_keys(text).await.unwrap();
    }

    /// Presses `keys` together (modifiers first) through the actions API.
    async fn keys(&self, keys: &[String]) {
        use fantoccini::actions::{InputSource, KeyAction, KeyActions};
        let mut a = KeyActions::new("kb".into());
        for k in keys {
            a = a.then(KeyAction::Down {
                value: k.chars().next().unwrap(),
            });
        }
        for k in keys.iter().rev() {
            a = a.then(KeyAction::Up {
                value: k.chars().next().unwrap(),
            });
        }
        self.client.perform_actions(a).await.unwrap();
    }
}

fn key(k: Key) -> String {
    char::from(k).to_string()
}

/// Turns in the saved JSON as (speaker, text).
fn json_turns(doc: &Value) -> Vec<(String, String)> {
    doc["turns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                t["speaker"].as_str().unwrap().to_string(),
                t["text"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn docx_xml(path: &Path) -> String {
    common::docx_part_xml(path, "word/document.xml")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn page_shows_every_turn_and_a_click_plays_from_there() {
    let (_dir, json) = workspace();
    let doc = read_json(&json);
    let server = Server::start(&json, &[]);
    let b = Browser::open().await;
    b.load(&server.url).await;
    assert_eq!(b.turn_texts().await, json_turns(&doc));
    assert_eq!(
        b.js("return document.querySelectorAll('audio').length")
            .await,
        1
    );

    // Click the fourth turn's text: the audio seeks into that turn and plays.
    let turn = &doc["turns"][3];
    let (start, end) = (
        turn["start"].as_f64().unwrap(),
        turn["end"].as_f64().unwrap(),
    );
    b.click("[data-turn=\"3\"] [data-field=text]").await;
    b.wait_for(
        "the audio to seek",
        &format!("const a = document.querySelector('audio'); return a.currentTime >= {} && a.currentTime <= {};", start - 0.2, end + 0.5),
    )
    .await;
    // While it plays, the turn under the audio is the highlighted one.
    b.wait_for(
        "the playing turn highlighted",
        "const a = document.querySelector('audio'); return !a.paused",
    )
    .await;
    b.close().await;
    let (status, err) = server.stop();
    assert!(
        status.success(),
        "Ctrl-C is a clean stop: {status:?}\n{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_edit_survives_save_and_reload_and_reaches_the_docx() {
    let (dir, json) = workspace();
    let before = std::fs::read(&json).unwrap();
    let server = Server::start(&json, &[]);
    let b = Browser::open().await;
    b.load(&server.url).await;
    b.retype(1, "佐藤です。窓口のデジタル化について伺います。")
        .await;
    b.saved().await;

    let doc = read_json(&json);
    assert_eq!(
        doc["turns"][1]["text"],
        "佐藤です。窓口のデジタル化について伺います。"
    );
    // The recogniser's words are kept, and the previous file is the backup.
    let raw: String = doc["segments"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|s| s["raw_text"].as_str())
        .collect();
    assert!(raw.contains("窓口のデジタル化事業"), "{raw}");
    assert_eq!(
        std::fs::read(dir.path().join("会議.json.bak")).unwrap(),
        before
    );

    b.client.refresh().await.unwrap();
    b.wait_for(
        "reload",
        "return document.querySelectorAll('[data-turn]').length > 0",
    )
    .await;
    assert_eq!(
        b.turn_texts().await[1].1,
        "佐藤です。窓口のデジタル化について伺います。"
    );

    // Export the 会議録 from the page: written beside the JSON.
    b.click("#export").await;
    let docx = dir.path().join("会議.docx");
    let deadline = Instant::now() + Duration::from_secs(15);
    while !docx.is_file() {
        assert!(Instant::now() < deadline, "no DOCX written");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(docx_xml(&docx).contains("窓口のデジタル化について伺います。"));
    b.close().await;
    drop(server);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_tab_gets_a_conflict_not_an_overwrite() {
    let (_dir, json) = workspace();
    let server = Server::start(&json, &[]);
    let a = Browser::open().await;
    let b = Browser::open().await;
    a.load(&server.url).await;
    b.load(&server.url).await;
    a.retype(0, "一つ目のタブの修正。").await;
    a.saved().await;
    b.retype(0, "二つ目のタブの修正。").await;
    b.wait_for(
        "the conflict message",
        "return /別の/.test(document.querySelector('[data-field=save-state]').textContent)",
    )
    .await;
    let state = b.save_state().await;
    assert_ne!(state, "保存済み");
    let doc = read_json(&json);
    assert_eq!(doc["turns"][0]["text"], "一つ目のタブの修正。");
    a.close().await;
    b.close().await;
    drop(server);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn split_rename_and_merge_reach_the_json() {
    let (_dir, json) = workspace();
    let server = Server::start(&json, &[]);
    let b = Browser::open().await;
    b.load(&server.url).await;
    let n = b.turn_texts().await.len();

    // Split turn 0 after its first sentence (caret placed by script, split by shortcut).
    b.js("const t = document.querySelector('[data-turn=\"0\"] [data-field=text]'); t.focus(); const r = document.createRange(); const w = document.createTreeWalker(t, NodeFilter.SHOW_TEXT); let off = t.textContent.indexOf('。') + 1, node; while ((node = w.nextNode())) { if (off <= node.length) break; off -= node.length; } r.setStart(node, off); r.collapse(true); const s = getSelection(); s.removeAllRanges(); s.addRange(r); return true;").await;
    b.keys(&[key(Key::Alt), key(Key::Enter)]).await;
    b.saved().await;
    let doc = read_json(&json);
    assert_eq!(json_turns(&doc).len(), n + 1, "split adds a turn");
    assert_eq!(
        doc["turns"][0]["text"],
        "ただいまから総務常任委員会を開会します。"
    );
    assert_eq!(doc["turns"][1]["speaker"], "委員長");

    // Merge it back with Alt+Backspace from inside the new turn.
    b.click("[data-turn=\"1\"] [data-field=text]").await;
    b.keys(&[key(Key::Alt), key(Key::Backspace)]).await;
    b.saved().await;
    let doc = read_json(&json);
    assert_eq!(json_turns(&doc).len(), n, "merge joins the turns again");

    // Undo brings the split back.
    b.keys(&[key(Key::Control), "z".into()]).await;
    b.saved().await;
    assert_eq!(json_turns(&read_json(&json)).len(), n + 1);
    b.close().await;
    drop(server);
}

/// Plain HTTP: what a browser without the token, another site, or another address gets.
#[test]
fn refuses_without_token_and_listens_on_loopback_only() {
    let (dir, json) = workspace();
    let server = Server::start(&json, &[]);
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let status = |r: Result<ureq::http::Response<ureq::Body>, ureq::Error>| r.unwrap().status();
    for path in ["/", "/api/doc", "/audio", "/assets/app.js", "/download"] {
        assert_eq!(
            status(agent.get(&format!("{}{path}", server.base())).call()),
            403,
            "{path} without the token"
        );
    }
    let wrong = format!(
        "{}/?token=00{}",
        server.base(),
        &server.url[server.url.len() - 62..]
    );
    assert_eq!(status(agent.get(&wrong).call()), 403);
    // DNS rebinding: the right token under a foreign Host name.
    assert_eq!(
        status(
            agent
                .get(&server.url)
                .header("Host", "evil.example:80")
                .call()
        ),
        421
    );
    let ok = agent.get(&server.url).call().unwrap();
    assert_eq!(ok.status(), 200);
    let cookie = ok
        .headers()
        .get("set-cookie")
        .unwrap()
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_string();
    assert!(ok.headers().get("access-control-allow-origin").is_none());
    // The cookie alone opens the API; a write from another origin is refused.
    let doc = agent
        .get(&format!("{}/api/doc", server.base()))
        .header("Cookie", &cookie)
        .call()
        .unwrap();
    assert_eq!(doc.status(), 200);
    assert_eq!(
        status(
            agent
                .put(&format!("{}/api/doc", server.base()))
                .header("Cookie", &cookie)
                .header("Origin", "http://evil.example")
                .send("{}")
        ),
        403
    );
    // Range requests: seeking does not fetch the whole file.
    let part = agent
        .get(&format!("{}/audio", server.base()))
        .header("Cookie", &cookie)
        .header("Range", "bytes=1000-1999")
        .call()
        .unwrap();
    assert_eq!(part.status(), 206);
    assert_eq!(part.into_body().read_to_vec().unwrap().len(), 1000);
    // A body far larger than any meeting is refused before it is read.
    // (The server answers 413 and closes; the client may still be sending.)
    let huge = vec![b' '; 70 << 20];
    match agent
        .put(&format!("{}/api/doc", server.base()))
        .header("Cookie", &cookie)
        .send(&huge[..])
    {
        Ok(r) => assert_eq!(r.status(), 413),
        Err(ureq::Error::Io(e)) => assert!(
            matches!(
                e.kind(),
                std::io::ErrorKind::BrokenPipe | std::io::ErrorKind::ConnectionReset
            ),
            "{e}"
        ),
        Err(e) => panic!("{e}"),
    }
    let after = read_json(&dir.path().join("会議.json"));
    assert!(after["segments"].is_array(), "nothing written");

    // Listening sockets on this port: 127.0.0.1 only.
    let hex_port = format!(":{:04X}", server.port);
    let listening: Vec<String> = ["/proc/net/tcp", "/proc/net/tcp6"]
        .iter()
        .filter_map(|p| std::fs::read_to_string(p).ok())
        .flat_map(|t| t.lines().skip(1).map(str::to_string).collect::<Vec<_>>())
        .filter(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            f.len() > 3 && f[1].ends_with(&hex_port) && f[3] == "0A"
        })
        .collect();
    assert_eq!(listening.len(), 1, "{listening:?}");
    assert!(
        listening[0].split_whitespace().nth(1).unwrap() == format!("0100007F{hex_port}"),
        "{listening:?}"
    );
    drop(server);
}

/// `gijiroku review JSON EXTRA…` that must fail: its stderr.
fn review_refused(json: &Path, extra: &[&std::ffi::OsStr]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_gijiroku"))
        .args(["review", "--no-browser"])
        .args(extra)
        .arg(json)
        .output()
        .unwrap();
    assert!(!out.status.success(), "review started");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn missing_or_different_audio_is_a_clear_error() {
    let (dir, json) = workspace();
    std::fs::rename(dir.path().join("会議.wav"), dir.path().join("別名.wav")).unwrap();
    let err = review_refused(&json, &[]);
    assert!(
        err.contains("会議.wav") && err.contains("録音が見つかりません"),
        "{err}"
    );

    // Another recording of another length, given with --audio: refused, naming it.
    let other = common::sample("multi.wav");
    let err = review_refused(&json, &["--audio".as_ref(), other.as_os_str()]);
    assert!(err.contains("multi.wav") && err.contains("違う"), "{err}");

    // The moved recording given with --audio is accepted (same bytes).
    let server = Server::start(
        &json,
        &["--audio", dir.path().join("別名.wav").to_str().unwrap()],
    );
    assert!(server.url.contains("token="));
    drop(server);
}

#[test]
fn json_flag_prints_an_object_with_the_url() {
    let (_dir, json) = workspace();
    let mut child = Command::new(env!("CARGO_BIN_EXE_gijiroku"))
        .args(["review", "--no-browser", "--json"])
        .arg(&json)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let _ = child.kill();
    let _ = child.wait();
    let v: Value = serde_json::from_str(&line).unwrap();
    assert!(v["url"].as_str().unwrap().starts_with("http://127.0.0.1:"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rename_reassign_reviewed_and_header_reach_the_json_and_share() {
    let (dir, json) = workspace();
    let server = Server::start(&json, &[]);
    let b = Browser::open().await;
    b.load(&server.url).await;
    let n = b.turn_texts().await.len();

    // Give turn 7 (総務課長 「ありません。」) to 佐藤委員 from the speaker menu.
    assert_eq!(b.turn_texts().await[7].0, "総務課長");
    b.click("[data-turn=\"7\"] [data-field=speaker]").await;
    b.click("#menu .choice[data-name=\"佐藤委員\"]").await;
    b.saved().await;
    let doc = read_json(&json);
    assert_eq!(doc["turns"][7]["speaker"], "佐藤委員");
    assert_eq!(json_turns(&doc).len(), n);

    // Rename 委員長 everywhere.
    b.click("[data-turn=\"0\"] [data-field=speaker]").await;
    let input = b
        .client
        .find(Locator::Css("#menu [data-form=rename] input"))
        .await
        .unwrap();
    input.clear().await.unwrap();
    input.send_keys("議長").await.unwrap();
    b.click("#menu [data-form=rename] button").await;
    b.saved().await;
    let doc = read_json(&json);
    let chair: Vec<&str> = json_turns(&doc)
        .iter()
        .filter(|(s, _)| s == "議長")
        .map(|_| "")
        .collect();
    assert_eq!(
        chair.len(),
        4,
        "every 委員長 turn renamed: {:?}",
        json_turns(&doc)
    );
    assert!(!json_turns(&doc).iter().any(|(s, _)| s == "委員長"));
    let label = doc["labels"][0].as_str().unwrap().to_string();
    assert_eq!(doc["meeting"]["話者"][&label], "議長");
    let voice = doc["voices"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["label"] == label.as_str())
        .unwrap();
    assert_eq!(voice["how"], "relabel");

    // Mark turn 0 確認済み.
    b.click("[data-turn=\"0\"] .rev-box").await;
    b.saved().await;
    assert_eq!(read_json(&json)["turns"][0]["reviewed"], true);

    // The header: 会議名.
    b.click("#meeting-panel summary").await;
    let title = b
        .client
        .find(Locator::Css("[data-m=\"会議名\"]"))
        .await
        .unwrap();
    title.clear().await.unwrap();
    title.send_keys("総務常任委員会（第3回）").await.unwrap();
    b.saved().await;
    assert_eq!(
        read_json(&json)["meeting"]["会議名"],
        "総務常任委員会（第3回）"
    );
    b.close().await;
    drop(server);

    // share and relabel work from the corrected JSON.
    let out = Command::new(env!("CARGO_BIN_EXE_gijiroku"))
        .args(["-q", "share"])
        .arg(&json)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let handout = dir.path().join("会議-共有");
    let minutes = std::fs::read_dir(&handout)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.to_string_lossy().contains("会議録"))
        .expect("the 会議録 in the handout");
    let xml = docx_xml(&minutes);
    assert!(xml.contains("議長") && xml.contains("総務常任委員会（第3回）"));
    let out = Command::new(env!("CARGO_BIN_EXE_gijiroku"))
        .args(["-q", "relabel"])
        .arg(&json)
        .arg("話者3=総務課長")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let doc = read_json(&json);
    assert_eq!(
        doc["turns"][0]["reviewed"], true,
        "relabel keeps the review"
    );
    assert_eq!(doc["turns"][7]["speaker"], "佐藤委員");
}

/// A 3-hour meeting (2,400 turns) made from the sample's segments, with a 3-hour WAV of
/// silence beside it.
fn three_hours(dir: &Path) -> PathBuf {
    let mut doc = read_json(&common::fixture("review/meeting.json"));
    let segs = doc["segments"].as_array().unwrap().clone();
    let labels = doc["labels"].as_array().unwrap().clone();
    let (mut out, mut out_labels) = (Vec::new(), Vec::new());
    let step = 4.5;
    for i in 0..2400 {
        let k = i % segs.len();
        let mut s = segs[k].clone();
        s["start"] = Value::from(i as f64 * step);
        s["end"] = Value::from(i as f64 * step + 4.0);
        out.push(s);
        // Alternate voices so every segment is a turn.
        out_labels.push(labels[i % 2].clone());
    }
    doc["segments"] = Value::from(out);
    doc["labels"] = Value::from(out_labels);
    doc["turns"] = Value::from(Vec::<Value>::new());
    let seconds = 2400.0 * step;
    doc["audio_seconds"] = Value::from(seconds);
    let wav = dir.join("長い会議.wav");
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: 8000,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut w = hound::WavWriter::create(&wav, spec).unwrap();
    for _ in 0..(seconds as usize * 8000) {
        w.write_sample(0i16).unwrap();
    }
    w.finalize().unwrap();
    doc.as_object_mut().unwrap().remove("audio");
    let json = dir.join("長い会議.json");
    std::fs::write(&json, serde_json::to_vec_pretty(&doc).unwrap()).unwrap();
    json
}

/// Figures, not a pass/fail timing: how long a 3-hour meeting takes to open and how long a
/// keystroke takes to show. `cargo test --release --test review -- --ignored --nocapture`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "benchmark: prints figures"]
async fn bench_three_hour_meeting() {
    let dir = tempfile::tempdir().unwrap();
    let json = three_hours(dir.path());
    let server = Server::start(&json, &[]);
    let b = Browser::open().await;
    let t = Instant::now();
    b.load(&server.url).await;
    let open = t.elapsed();
    let turns = b
        .js("return document.querySelectorAll('[data-turn]').length")
        .await;
    // Keystroke to paint, measured in the page, in a turn near the end.
    let el = b
        .client
        .find(Locator::Css("[data-turn=\"2300\"] [data-field=text]"))
        .await
        .unwrap();
    el.click().await.unwrap();
    let mut worst = 0.0f64;
    for _ in 0..20 {
        let ms = b
            .js("const t0 = performance.now(); document.execCommand('insertText', false, 'あ'); return new Promise(r => requestAnimationFrame(() => r(performance.now() - t0)));")
            .await
            .as_f64()
            .unwrap();
        worst = worst.max(ms);
    }
    let t = Instant::now();
    b.saved().await;
    let save = t.elapsed();
    println!(
        "review bench: {turns} turns, page open {:.2} s, keystroke to paint ≤ {worst:.1} ms, autosave done {:.2} s after typing",
        open.as_secs_f64(),
        save.as_secs_f64()
    );
    b.close().await;
    drop(server);
}

/// Writes the README's screenshot (docs/review.png) from the sample meeting:
/// `cargo test --release --test review -- --ignored screenshot`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "writes docs/review.png"]
async fn screenshot_for_the_readme() {
    let (_dir, json) = workspace();
    let server = Server::start(&json, &[]);
    let b = Browser::open().await;
    b.client.set_window_size(1200, 760).await.unwrap();
    b.load(&server.url).await;
    // A reviewed turn, the audio playing in turn 3.
    b.click("[data-turn=\"0\"] .rev-box").await;
    b.click("[data-turn=\"3\"] [data-field=text]").await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    b.js("document.querySelector('audio').pause(); return true")
        .await;
    b.saved().await;
    let png = b.client.screenshot().await.unwrap();
    std::fs::write(common::repo().join("docs/review.png"), png).unwrap();
    b.close().await;
    drop(server);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recording_markers_show_between_turns_and_seek() {
    let (_dir, json) = workspace();
    let mut doc = read_json(&json);
    doc["markers"] = serde_json::json!([
        {"at": 20.0, "label": "窓口の質問"},
        {"at": 50.0, "label": ""}
    ]);
    std::fs::write(&json, serde_json::to_vec_pretty(&doc).unwrap()).unwrap();
    let server = Server::start(&json, &[]);
    let b = Browser::open().await;
    b.load(&server.url).await;
    // Each row sits before the first turn starting at or after it, outside every turn.
    let rows: Vec<(String, i64)> = serde_json::from_value(
        b.js("return [...document.querySelectorAll('[data-marker]')].map(m => { let n = m.nextElementSibling; while (n && !n.matches('[data-turn]')) n = n.nextElementSibling; return [m.textContent.trim(), n ? Number(n.dataset.turn) : -1]; })")
            .await,
    )
    .unwrap();
    let first_after = |at: f64| -> i64 {
        doc["turns"]
            .as_array()
            .unwrap()
            .iter()
            .position(|t| t["start"].as_f64().unwrap() >= at)
            .map_or(-1, |i| i as i64)
    };
    assert_eq!(
        rows,
        [
            ("◆ 窓口の質問（0:00:20）".to_string(), first_after(20.0)),
            ("◆ 目印（0:00:50）".to_string(), first_after(50.0)),
        ]
    );
    assert_eq!(
        b.js("return document.querySelectorAll('[data-turn] [data-marker], [data-marker][data-turn]').length")
            .await,
        0
    );
    b.click("[data-marker=\"1\"]").await;
    b.wait_for(
        "the audio at the marker",
        "const a = document.querySelector('audio'); return Math.abs(a.currentTime - 50) < 1.0",
    )
    .await;
    b.close().await;
    drop(server);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unnamed_voice_is_named_from_its_candidates() {
    let (_dir, json) = workspace();
    let mut doc = read_json(&json);
    // The voice of turn 1 as naming leaves it when the calls are not enough: no name, one
    // candidate with the call behind it.
    let label = doc["labels"][1].as_str().unwrap().to_string();
    doc["meeting"]["話者"]
        .as_object_mut()
        .unwrap()
        .remove(&label);
    doc["voices"] = serde_json::json!([{
        "label": label, "name": null, "how": "unnamed",
        "candidates": [{"name": "佐藤委員", "votes": 0.5,
                        "calls": [{"at": 13.0, "said": "佐藤委員。"}]}]
    }]);
    std::fs::write(&json, serde_json::to_vec_pretty(&doc).unwrap()).unwrap();
    let server = Server::start(&json, &[]);
    let b = Browser::open().await;
    b.load(&server.url).await;
    assert_eq!(b.turn_texts().await[1].0, label);
    b.click("[data-turn=\"1\"] [data-field=speaker]").await;
    let menu = b
        .client
        .find(Locator::Id("menu"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        menu.contains("候補") && menu.contains("佐藤委員。"),
        "{menu}"
    );
    b.click("#menu button.cand[data-cand=\"佐藤委員\"]").await;
    b.saved().await;
    let saved = read_json(&json);
    assert_eq!(saved["meeting"]["話者"][&label], "佐藤委員");
    assert_eq!(saved["turns"][1]["speaker"], "佐藤委員");
    let voice = &saved["voices"][0];
    assert_eq!(
        (voice["name"].as_str(), voice["how"].as_str()),
        (Some("佐藤委員"), Some("relabel"))
    );
    b.close().await;
    drop(server);
}
