//! `gijiroku review`: the page for correcting a draft beside its recording.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Result;
use clap::Args;

use gijiroku::review::{Review, ReviewOptions};

use super::Status;

#[derive(Args, Debug)]
pub struct ReviewArgs {
    /// The JSON written by `transcribe` (会議.json); saves go back into it (previous version
    /// in 会議.json.bak).
    #[arg(value_name = "JSON")]
    pub json: PathBuf,
    /// The recording to play, if not the one the JSON names (moved or converted).
    #[arg(long, value_name = "FILE")]
    pub audio: Option<PathBuf>,
    /// Port on 127.0.0.1 (default: any free port).
    #[arg(long, default_value_t = 0)]
    pub port: u16,
    /// Print the address only; do not open the browser.
    #[arg(long)]
    pub no_browser: bool,
    /// Print the address as a JSON object ({"url": …}).
    #[arg(long = "json")]
    pub json_output: bool,
    /// Your office's own .docx form, offered for export beside 会議録/復命書/要旨.
    #[arg(long, value_name = "FORM.docx")]
    pub form: Option<PathBuf>,
}

pub(crate) fn run(args: &ReviewArgs, quiet: bool) -> Result<Status> {
    let review = Review::open(&ReviewOptions {
        json: args.json.clone(),
        audio: args.audio.clone(),
        port: args.port,
        form: args.form.clone(),
    })?;
    let url = review.url();
    // The first line on stdout is the address (tests and scripts read it).
    if args.json_output {
        println!(
            "{}",
            serde_json::json!({
                "url": url,
                "port": review.addr().port(),
                "json": args.json,
                "audio": review.audio(),
            })
        );
    } else {
        println!("{url}");
    }
    if !quiet {
        eprintln!(
            "校正ページを開いています: {} ／ 録音: {}（Ctrl-C で終了）",
            args.json.display(),
            review.audio().display()
        );
    }
    if !args.no_browser {
        if let Err(e) = webbrowser::open(&url) {
            eprintln!("ブラウザを開けませんでした（上の URL を開いてください）: {e}");
        }
    }
    let stop = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(sig, Arc::clone(&stop))?;
    }
    let served = review.serve(async move {
        while !stop.load(Ordering::Relaxed) {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })?;
    if !quiet {
        eprintln!(
            "終了しました（保存 {} 回、書き出し {} 回）",
            served.saves, served.exports
        );
    }
    Ok(Status::Ok)
}
