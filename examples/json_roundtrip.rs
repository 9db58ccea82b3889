//! The baseline for `bench/convert.sh`: a plain serde_json parse and
//! serialize of every JSONL line (untyped `Value`, one thread).
//!
//! Usage: json_roundtrip INPUT OUTPUT

use std::io::{BufRead, BufReader, BufWriter, Write};

fn main() -> std::io::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let [_, input, output] = args.as_slice() else {
        eprintln!("usage: json_roundtrip INPUT OUTPUT");
        std::process::exit(2);
    };
    let reader = BufReader::with_capacity(1 << 20, std::fs::File::open(input)?);
    let mut out = BufWriter::with_capacity(1 << 20, std::fs::File::create(output)?);
    for line in reader.split(b'\n') {
        let line = line?;
        if line.is_empty() {
            continue;
        }
        let v: serde_json::Value = serde_json::from_slice(&line)?;
        serde_json::to_writer(&mut out, &v)?;
        out.write_all(b"\n")?;
    }
    out.flush()
}
