package api

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/capsol/capsol/internal/version"
)

func (s *Server) health(c *gin.Context) {
	c.JSON(http.StatusOK, gin.H{"status": "ok", "version": version.Version})
}

func (s *Server) ready(c *gin.Context) {
	state := s.State()
	if state != StateReady {
		c.JSON(http.StatusServiceUnavailable, gin.H{"status": state})
		return
	}
	c.JSON(http.StatusOK, gin.H{"status": StateReady})
}
