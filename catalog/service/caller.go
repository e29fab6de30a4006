package service

import "context"

type callerKey struct{}

// WithCaller returns ctx naming who asked for the change it carries: the
// API sets it from the request's token (or, before acl bootstrap, the
// caller header) and the cluster records it in the operations log.
func WithCaller(ctx context.Context, caller string) context.Context {
	return context.WithValue(ctx, callerKey{}, caller)
}

// CallerFrom returns the caller WithCaller put into ctx ("" if none).
func CallerFrom(ctx context.Context) string {
	c, _ := ctx.Value(callerKey{}).(string)
	return c
}
