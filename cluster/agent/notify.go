package agent

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
)

// webhookNotifier delivers schedule notifications (master.Notifier): a POST
// of the JSON body; any 2xx answer is a delivery.
type webhookNotifier struct{ client *http.Client }

func (n webhookNotifier) Deliver(ctx context.Context, webhook string, headers map[string]string, body []byte) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, webhook, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "scaleout-notify")
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := n.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("webhook answered %s", resp.Status)
	}
	return nil
}
