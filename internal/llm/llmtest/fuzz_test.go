package llmtest

import (
	"net/http"
	"testing"
)

// FuzzDecode feeds arbitrary bodies to the request decoder of each wire (the fake also serves a developer mode,
// so its parser faces untrusted input): it must never panic, and a conversation it accepts has consistent tool
// links and a non-negative turn count.
func FuzzDecode(f *testing.F) {
	f.Add(uint8(0), []byte(`{"model":"m","messages":[{"role":"user","content":"x"},{"role":"assistant","tool_calls":[{"id":"a","function":{"name":"b","arguments":"{}"}}]},{"role":"tool","tool_call_id":"a","content":"r"}]}`))
	f.Add(uint8(1), []byte(`{"model":"m","input":[{"role":"user","content":[{"type":"input_text","text":"x"}]},{"type":"function_call","call_id":"c","name":"n","arguments":"{}"},{"type":"function_call_output","call_id":"c","output":"o"}]}`))
	f.Add(uint8(2), []byte(`{"model":"m","max_tokens":5,"system":[{"type":"text","text":"s"}],"messages":[{"role":"user","content":[{"type":"text","text":"x"}]},{"role":"assistant","content":[{"type":"tool_use","id":"t","name":"n","input":{}}]},{"role":"user","content":[{"type":"tool_result","tool_use_id":"t","content":[{"type":"text","text":"r"}]}]}]}`))
	f.Add(uint8(3), []byte(`{"contents":[{"role":"user","parts":[{"text":"x"}]},{"role":"model","parts":[{"functionCall":{"name":"n","args":{}}}]},{"role":"user","parts":[{"functionResponse":{"name":"n","response":{"output":"r"}}}]}]}`))
	f.Add(uint8(3), []byte(`{"contents":[{"parts":[{"functionResponse":{"name":"n","response":null}}]}]}`))
	f.Fuzz(func(t *testing.T, api uint8, body []byte) {
		r := Request{API: APIs[int(api)%len(APIs)], Body: body, Header: http.Header{"Anthropic-Version": {"2023-06-01"}}}
		if err := decode(&r); err != nil {
			return
		}
		if r.AssistantTurns() < 0 || r.AssistantTurns() > len(r.Messages) {
			t.Fatalf("turns %d for %d messages", r.AssistantTurns(), len(r.Messages))
		}
		_ = conversation(r)
	})
}
