package llmtest_test

import (
	"context"
	"fmt"

	"github.com/appstrate/appstrate-go/internal/llm"
	"github.com/appstrate/appstrate-go/internal/llm/llmtest"
)

// A scripted model calls bash once, then answers. The client drives the loop; the fake records what it was sent.
func ExampleServe() {
	srv, err := llmtest.Serve("127.0.0.1:0", llmtest.Script{APIKey: "sk-real", Turns: []llmtest.Turn{
		{ToolCalls: []llmtest.ToolCall{{Name: "bash", Args: `{"command":"echo hi"}`}}},
		{Text: "done", Usage: llmtest.Usage{InputTokens: 1200, OutputTokens: 30, CacheReadTokens: 1000}},
	}})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer srv.Close()

	c := llm.NewAnthropic(llm.Config{BaseURL: srv.BaseURL(llmtest.Anthropic), APIKey: "sk-real"})
	req := llm.Request{Model: "claude-x", System: "You are an agent.", Messages: []llm.Message{llm.UserText("say hi")}}
	for {
		resp, err := c.Stream(context.Background(), req, func(llm.Event) error { return nil })
		if err != nil {
			fmt.Println(err)
			return
		}
		req.Messages = append(req.Messages, resp.Message)
		calls := resp.Message.ToolCalls()
		if len(calls) == 0 {
			fmt.Printf("%s (usage %+v)\n", resp.Message.Text(), resp.Usage)
			break
		}
		for _, tc := range calls {
			fmt.Printf("tool %s %s\n", tc.Name, tc.Arguments)
			req.Messages = append(req.Messages, llm.Message{Role: llm.RoleUser,
				Parts: []llm.Part{llm.ToolResultPart(tc.ID, tc.Name, "hi\n", false)}})
		}
	}
	last := srv.Requests()[1]
	fmt.Printf("turn %d, tool result %q\n", last.Turn, last.LastToolResults()[0].Content)
	// Output:
	// tool bash {"command":"echo hi"}
	// done (usage {InputTokens:1200 OutputTokens:30 CacheReadTokens:1000 CacheWriteTokens:0})
	// turn 1, tool result "hi\n"
}
