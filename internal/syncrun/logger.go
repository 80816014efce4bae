package syncrun

import (
	"io"

	"github.com/go-logr/logr"
	"go.uber.org/zap/zapcore"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
)

// NewLogger is the runtimes' logger: JSON lines to w, without stack traces (the runtimes' errors
// are for operators reading pod logs, and their messages already say what failed). opts add to
// it; tests raise the level to see the V(1) lines too.
func NewLogger(w io.Writer, opts ...zap.Opts) logr.Logger {
	return zap.New(append([]zap.Opts{zap.JSONEncoder(), zap.StacktraceLevel(zapcore.PanicLevel), zap.WriteTo(w)}, opts...)...)
}
