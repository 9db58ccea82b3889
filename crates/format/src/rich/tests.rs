//! Structured content both ways, element by element.

use super::*;
use crate::hubster::{Action, Content};
use crate::hubster::{Fields, Message};
use crate::hubster_in as In;
use crate::maps::maps_url;
use serde_json::{Value, json};

/// The message JSON a content would be written as (without provenance).
fn written(c: Content) -> Value {
    let mut v = Message {
        content: c,
        provenance: Fields::new(),
    }
    .to_value();
    v.as_object_mut().unwrap().remove("channels");
    v
}

#[test]
fn vertical_becomes_a_card() {
    let v = json!({"type":"vertical","elements":[
        {"type":"image","url":"https://x/i.png"},
        {"type":"text","text":"Title"},{"type":"text","text":"Sub"},{"type":"text","text":"More"},
        {"type":"button","title":"Go","click":{"actions":[{"type":"link","uri":"https://x"}]}},
        {"type":"button","title":"Yes","click":{"actions":[{"type":"publishText","text":"yes"}]}}]});
    let c = to_hubster_content(&v.to_string()).unwrap();
    assert_eq!(
        written(c),
        json!({"type":"card","title":"Title","subtitle":"Sub","content":"More",
        "urlType":"image","url":"https://x/i.png",
        "actions":[{"type":"link","title":"Go","url":"https://x"},{"type":"reply","title":"Yes","payload":"yes"}]})
    );
}

#[test]
fn a_horizontal_layout_is_a_card_with_its_images_and_maps() {
    let v = json!({"type":"horizontal","elements":[{"type":"text","text":"a"},{"type":"text","text":"b"}]});
    assert_eq!(
        written(to_hubster_content(&v.to_string()).unwrap()),
        json!({"type":"card","title":"a","subtitle":"b"})
    );
    let v = json!({"type":"horizontal","elements":[{"type":"image","url":"https://x/1.png"},
        {"type":"image","url":"https://x/2.png","caption":"two"},{"type":"map","la":1.5,"lo":2.5,"tooltip":"here"}]});
    assert_eq!(
        written(to_hubster_content(&v.to_string()).unwrap()),
        json!({"type":"card","urlType":"image","url":"https://x/1.png","actions":[
            {"type":"link","title":"two","url":"https://x/2.png"},
            {"type":"link","title":"here","url":maps_url(1.5, 2.5)}]})
    );
    let v = json!({"type":"list","elements":[]});
    assert!(
        matches!(to_hubster_content(&v.to_string()), Some(Content::Text(t)) if t == "[rich content: list]")
    );
}

#[test]
fn single_elements_land_in_their_hubster_equivalents() {
    let map = json!({"type":"map","la":40.75,"lo":-73.99,"tooltip":"Store"});
    assert_eq!(
        written(to_hubster_content(&map.to_string()).unwrap()),
        json!({"type":"location","latitude":40.75,"longitude":-73.99,"address":"Store"})
    );
    let img = json!({"type":"image","url":"https://x/i.png","caption":"cap","alt":"alt text",
        "click":{"actions":[{"type":"link","uri":"https://x"}]}});
    assert_eq!(
        written(to_hubster_content(&img.to_string()).unwrap()),
        json!({"type":"image","url":"https://x/i.png","alt":"alt text","title":"cap","urlAnchor":"https://x"})
    );
    let button = json!({"type":"button","title":"Go","click":{"actions":[
        {"type":"link","uri":"https://x"},{"type":"publishText","text":"go"},{"type":"navigate","la":1.0,"lo":2.0}]}});
    assert_eq!(
        written(to_hubster_content(&button.to_string()).unwrap()),
        json!({"type":"text","text":"Go","actions":[{"type":"link","title":"Go","url":"https://x"},
            {"type":"reply","title":"Go","payload":"go"},{"type":"link","title":"Go","url":maps_url(1.0, 2.0)}]})
    );
    let replies = json!({"type":"quickReplies","replies":[{"type":"button","title":"Yes","click":{"actions":[{"type":"publishText","text":"yep"}]}}]});
    assert_eq!(
        quick_replies(&replies.to_string()),
        vec![Action::Reply {
            title: "Yes".into(),
            payload: "yep".into()
        }]
    );
    assert_eq!(
        quick_replies(&serde_json::to_string(&replies.to_string()).unwrap()).len(),
        1,
        "as JSON text too"
    );
}

#[test]
fn one_button_with_several_actions_comes_back_as_one() {
    let msg: In::Message = serde_json::from_value(json!({"type":"text","text":"t","actions":[
        {"type":"link","title":"Go","url":"https://x"},{"type":"reply","title":"Go","payload":"go"},
        {"type":"link","title":"Map","url":maps_url(1.0, 2.0)}]}))
    .unwrap();
    let sc = to_structured(&msg).unwrap();
    assert_eq!(
        sc["elements"][1]["click"]["actions"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    assert_eq!(
        sc["elements"][2]["click"]["actions"][0],
        json!({"type":"navigate","name":"Map","la":1.0,"lo":2.0})
    );
}

#[test]
fn odd_field_types_are_ignored_not_fatal() {
    let v = json!({"type":"carousel","elements":[{"type":"vertical","elements":[{"type":"text","text":5},{"type":"text","text":"ok"}]}, 7, "x"]});
    let c = to_hubster_content(&v.to_string()).unwrap();
    assert_eq!(
        written(c),
        json!({"type":"carousel","items":[{"title":"ok"},{},{}]})
    );
    assert!(to_hubster_content("[1]").is_none());
    assert!(to_hubster_content("{nope").is_none());
}

#[test]
fn location_becomes_a_map() {
    let m = In::Message::of(
        &json!({"type":"location","latitude":1.5,"longitude":-2.0,"address":"Here"}),
    )
    .unwrap();
    assert_eq!(
        to_structured(&m).unwrap()["elements"][0],
        json!({"type":"map","la":1.5,"lo":-2.0,"tooltip":"Here"})
    );
    let text = In::Message::of(&json!({"type":"text","text":"hi"})).unwrap();
    assert_eq!(to_structured(&text), None);
}

#[test]
fn quick_replies_beside_a_cards_elements_are_its_replies() {
    let v = json!({"type":"vertical","elements":[{"type":"text","text":"More?"}],
        "quickReplies":{"type":"quickReplies","replies":[
            {"type":"button","title":"Yes","click":{"actions":[{"type":"publishText","text":"yes"}]}},
            {"type":"button","title":"No"}]}});
    let r = read(&v.to_string()).unwrap();
    assert_eq!(
        written(r.content),
        json!({"type":"card","title":"More?","actions":[
            {"type":"reply","title":"Yes","payload":"yes"},{"type":"reply","title":"No","payload":"No"}]})
    );
    assert!(r.degraded.is_empty());
    // Beside a carousel: under its items.
    let card = |t: &str| json!({"type":"vertical","elements":[{"type":"text","text":t}]});
    let v = json!({"type":"carousel","elements":[card("a"),card("b")],
        "quickReplies":{"type":"quickReplies","replies":[{"type":"button","title":"Done"}]}});
    assert_eq!(
        written(to_hubster_content(&v.to_string()).unwrap()),
        json!({"type":"carousel","items":[{"title":"a"},{"title":"b"}],
            "actions":[{"type":"reply","title":"Done","payload":"Done"}]})
    );
}

#[test]
fn an_action_keeps_its_name_and_an_image_where_it_leads() {
    // A named link of a titled button: both, once.
    let b = |title: &str, name: &str| {
        json!({"type":"button","title":title,
        "click":{"actions":[{"type":"link","name":name,"uri":"https://x/c"}]}})
    };
    for (title, name, shown) in [
        ("Push Me!", "Add to cart", "Push Me! (Add to cart)"),
        ("Add to cart", "Add to cart", "Add to cart"),
        ("to cart", "Add to cart", "Add to cart"),
        ("", "Add to cart", "Add to cart"),
    ] {
        assert_eq!(
            written(to_hubster_content(&b(title, name).to_string()).unwrap())["actions"][0]["title"],
            shown,
            "{title} / {name}"
        );
    }
    // An image that opens a named link, alone: an image titled by the
    // name, the link its anchor; with a caption too: a card whose action
    // carries the name.
    let img = json!({"type":"image","url":"https://x/i.png",
        "click":{"actions":[{"type":"link","name":"Shop","uri":"https://x/shop"}]}});
    assert_eq!(
        written(to_hubster_content(&img.to_string()).unwrap()),
        json!({"type":"image","url":"https://x/i.png","title":"Shop","urlAnchor":"https://x/shop"})
    );
    let mut captioned = img.clone();
    captioned["caption"] = "A shoe".into();
    assert_eq!(
        written(to_hubster_content(&captioned.to_string()).unwrap()),
        json!({"type":"card","content":"A shoe","urlType":"image","url":"https://x/i.png",
            "actions":[{"type":"link","title":"Shop","url":"https://x/shop"}]})
    );
    // An image beside a button: the button's link is not the image's.
    let v = json!({"type":"vertical","elements":[{"type":"image","url":"https://x/i.png"},
        {"type":"button","title":"Buy","click":{"actions":[{"type":"link","uri":"https://x/buy"}]}}]});
    assert_eq!(
        written(to_hubster_content(&v.to_string()).unwrap()),
        json!({"type":"card","urlType":"image","url":"https://x/i.png",
            "actions":[{"type":"link","title":"Buy","url":"https://x/buy"}]})
    );
}

#[test]
fn what_has_no_hubster_element_is_text_or_a_postback_and_named() {
    let nav = json!({"type":"button","title":"Go","click":{"actions":[
        {"type":"navigate","name":"Store","la":2423423423.0,"lo":23423423.0}]}});
    let r = read(&nav.to_string()).unwrap();
    assert_eq!(
        written(r.content),
        json!({"type":"text","text":"Go (Store) (la 2423423423, lo 23423423: not a place on a map)"})
    );
    assert_eq!(r.degraded.len(), 1);
    assert_eq!(r.degraded[0].kind, crate::report::kind::NOT_A_PLACE);
    let cart = json!({"type":"button","title":"Buy","click":{"actions":[
        {"type":"addToCart","items":[{"productId":"p1","quantity":1}]}]}});
    let r = read(&cart.to_string()).unwrap();
    match &r.content {
        Content::TextActions { actions, .. } => assert!(
            matches!(&actions[..], [Action::Postback { title, payload }] if title == "Buy" && payload.contains("p1")),
            "{actions:?}"
        ),
        other => panic!("{other:?}"),
    }
    assert_eq!(r.degraded[0].kind, crate::report::kind::ACTION_AS_POSTBACK);
    // A clickable text: a text with its link.
    let t = json!({"type":"text","text":"Track","click":{"actions":[{"type":"link","uri":"https://x/t"}]}});
    assert_eq!(
        written(to_hubster_content(&t.to_string()).unwrap()),
        json!({"type":"text","text":"Track","actions":[{"type":"link","title":"Track","url":"https://x/t"}]})
    );
    // Key-value pairs as lines.
    let kv =
        json!({"type":"keyValuePairList","elements":[{"key":"Order","value":"A1"},{"key":"Gift"}]});
    assert_eq!(
        written(to_hubster_content(&kv.to_string()).unwrap()),
        json!({"type":"text","text":"Order: A1\nGift"})
    );
}

#[test]
fn coordinates_of_an_odd_type_lose_no_other_action() {
    let v = json!({"type":"button","title":"Go","click":{"actions":[
        {"type":"navigate","la":"north","lo":2},
        {"type":"link","name":"Site","uri":"https://x/s"}]}});
    let r = read(&v.to_string()).unwrap();
    match &r.content {
        Content::TextActions { actions, .. } => {
            assert!(
                matches!(&actions[..], [Action::Postback { .. }, Action::Link { title, .. }] if title == "Go (Site)"),
                "{actions:?}"
            )
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(r.degraded.len(), 1, "{:?}", r.degraded);
}

#[test]
fn an_element_the_schema_does_not_list_is_named() {
    let v = json!({"type":"vertical","elements":[{"type":"text","text":"Hi"},
        {"type":"hologram","title":"Spin me","url":"https://x/h"}]});
    let r = read(&v.to_string()).unwrap();
    assert_eq!(
        written(r.content),
        json!({"type":"card","title":"Hi","subtitle":"Spin me"})
    );
    assert_eq!(
        r.degraded.iter().map(|d| d.kind).collect::<Vec<_>>(),
        [crate::report::kind::UNKNOWN_ELEMENT]
    );
    assert!(r.degraded[0].detail.contains("hologram"));
}
