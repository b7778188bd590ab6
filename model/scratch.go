package model

import (
	"errors"

	"github.com/clattn/clattn/backend"
)

// scratch keeps a module's intermediate device tensors between calls, so a
// forward pass allocates only when a shape changes. Close releases them.
type scratch struct {
	be   backend.Backend
	bufs map[string]backend.Tensor
}

// get returns the scratch tensor called key with the given shape, reusing the
// previous one when its shape matches. Its content is undefined.
func (s *scratch) get(key string, shape ...int) (backend.Tensor, error) {
	if t := s.bufs[key]; t != nil {
		if t.Shape().Equal(shape) {
			return t, nil
		}
		delete(s.bufs, key)
		if err := t.Release(); err != nil {
			return nil, err
		}
	}
	t, err := s.be.Alloc(shape...)
	if err != nil {
		return nil, err
	}
	if s.bufs == nil {
		s.bufs = map[string]backend.Tensor{}
	}
	s.bufs[key] = t
	return t, nil
}

// write returns the scratch tensor called key with the given shape, holding
// data (written with Backend.Write): an input a module feeds its backend on
// every call, without making a tensor per call.
func (s *scratch) write(key string, data []float32, shape ...int) (backend.Tensor, error) {
	t, err := s.get(key, shape...)
	if err != nil {
		return nil, err
	}
	return t, s.be.Write(t, data)
}

// release frees every scratch tensor; it is idempotent.
func (s *scratch) release() error {
	var errs []error
	for k, t := range s.bufs {
		errs = append(errs, t.Release())
		delete(s.bufs, k)
	}
	return errors.Join(errs...)
}

// release releases t if it is not nil.
func release(t backend.Tensor) error {
	if t == nil {
		return nil
	}
	return t.Release()
}

// joinRelease returns err joined with the error of releasing t.
func joinRelease(err error, t backend.Tensor) error { return errors.Join(err, release(t)) }
