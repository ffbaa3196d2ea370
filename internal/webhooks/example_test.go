package webhooks_test

import (
	"fmt"

	"github.com/appstrate/appstrate-go/internal/webhooks"
)

// The webhook-signature header of a delivery, here for the example message of the Standard Webhooks
// specification. During a rotation window Sign gets both secrets and the header carries two signatures.
func ExampleSign() {
	sig, err := webhooks.Sign("msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, []byte(`{"test": 2432232314}`),
		"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(sig)
	// Output: v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=
}

// The envelope of a run event for a webhook in summary mode: result and input are left out.
func ExampleBuildEnvelope() {
	run := map[string]any{"object": "run", "id": "run_1", "packageId": "@acme/x", "status": "success", "duration": 1234,
		"input": map[string]any{"q": "hi"}, "result": map[string]any{"output": "done"}}
	body, _ := webhooks.BuildEnvelope("evt_1", webhooks.EventRunSuccess, 1780000000, run, webhooks.PayloadSummary)
	fmt.Println(string(body))
	// Output: {"id":"evt_1","object":"event","type":"run.success","apiVersion":"2026-03-21","created":1780000000,"data":{"object":{"duration":1234,"id":"run_1","object":"run","packageId":"@acme/x","status":"success"}}}
}
