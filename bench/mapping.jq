# The core of the LivePerson -> Hubster mapping in jq, for bench/convert.sh:
# role -> integration type, content records sorted by sequence (ties by
# serverTimestamp), accept statuses after the highest sequence they
# acknowledge, eventId = max(serverTimestamp, previous + 1), externalId.
def itype: {"CONSUMER": "Customer", "CONTROLLER": "Bot"}[.originatorMetadata.role // ""] // "Agent";
.conversationId as $c
| .messageEventRecords
| (map(select(.sequence != null)) | sort_by(.sequence, .serverTimestamp)) as $content
| (map(select(.sequence == null and .event.type == "AcceptStatusEvent"))
   | map(. + {sequence: ((.event.sequenceList | max) // -1), after: true})) as $status
| ($content + $status | sort_by(.sequence, (.after // false), .serverTimestamp))
| reduce .[] as $r ({prev: null, out: []};
    ([$r.serverTimestamp, (if .prev == null then $r.serverTimestamp else .prev + 1 end)] | max) as $e
    | .prev = $e
    | .out += [{
        type: (if $r.event.type == "AcceptStatusEvent" then "event" else "message" end),
        eventId: $e,
        externalId: (if $r.after then "lp:\($c):\($r.dialogId):status:\($r.originatorId):\($r.serverTimestamp)"
                     else "lp:\($c):\($r.dialogId):\($r.sequence)" end),
        sender: {integrationType: ($r | itype)},
        message: (if $r.event.contentType == "text/plain" then {type: "text", text: $r.event.message}
                  else {type: "payload", payload: $r.event} end)
      }])
| {conversationId: $c, activities: .out}
