//! The converter alone, without I/O: one generated conversation parsed,
//! converted and written, in both directions.

use convsync::format::Mapping;
use convsync::format::hubster::Activity;
use convsync::format::{self, HubsterResume, LpResume, liveperson};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;

fn corpus(conversations: u64) -> Vec<String> {
    let mut out = Vec::new();
    convsync::sim::generate::jsonl(42, conversations, 20, &mut out).unwrap();
    String::from_utf8(out)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect()
}

fn bench(c: &mut Criterion) {
    let lines = corpus(50);
    let bytes: usize = lines.iter().map(String::len).sum();
    let map = Mapping::default();

    let mut g = c.benchmark_group("liveperson_to_hubster");
    g.throughput(Throughput::Bytes(bytes as u64));
    g.bench_function("parse_convert_write", |b| {
        let mut out = Vec::with_capacity(bytes * 3);
        b.iter(|| {
            out.clear();
            for l in &lines {
                let line: liveperson::ConversationLine = serde_json::from_str(l).unwrap();
                let id = line.conversation_id.as_ref().unwrap().as_str();
                let conv =
                    format::to_hubster(id, &line.records, &map, &LpResume::default()).unwrap();
                Activity::write_array(&conv.activities, &mut out);
            }
            black_box(out.len())
        })
    });
    g.finish();

    // The reverse: the same conversations as activities.
    let activities: Vec<(String, Vec<serde_json::Value>)> = lines
        .iter()
        .map(|l| {
            let line: liveperson::ConversationLine = serde_json::from_str(l).unwrap();
            let id = line.conversation_id.as_ref().unwrap().as_str().to_owned();
            let conv = format::to_hubster(&id, &line.records, &map, &LpResume::default()).unwrap();
            let acts = conv.activities.iter().map(Activity::to_value).collect();
            (id, acts)
        })
        .collect();
    let mut g = c.benchmark_group("hubster_to_liveperson");
    g.throughput(Throughput::Elements(
        activities.iter().map(|(_, a)| a.len() as u64).sum(),
    ));
    g.bench_function("convert_write", |b| {
        b.iter(|| {
            let mut n = 0;
            for (id, acts) in &activities {
                let conv =
                    format::to_liveperson(id, acts, &map, &HubsterResume::default()).unwrap();
                n += serde_json::to_vec(&conv.records).unwrap().len();
            }
            black_box(n)
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
