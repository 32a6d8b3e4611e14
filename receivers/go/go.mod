module github.com/wss/receivers-go

go 1.21
