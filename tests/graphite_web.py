#!/usr/bin/python3
"""graphite_web.py - Debian's graphite-web (its Django WSGI application,
graphite.wsgi) served on 127.0.0.1:PORT with the standard library's
wsgiref server, reading the whisper files under WHISPER_DIR; everything it
writes (settings module, sqlite database, logs, index) goes to DIR.
No apache, no network, no carbon link (carbon is stopped, so its cache
is flushed, before this runs). For test_dashboards.c.

  graphite_web.py DIR WHISPER_DIR PORT

Run with Debian's /usr/bin/python3 (graphite-web and python3-whisper are
Debian packages). Prints "graphite-web listening on 127.0.0.1:PORT" once
it accepts connections; stops on SIGTERM.
"""
import os
import signal
import sys
import wsgiref.simple_server


def main():
    d, whisper_dir, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
    os.makedirs(os.path.join(d, "log"), exist_ok=True)
    with open(os.path.join(d, "rapl_graphite_settings.py"), "w") as f:
        f.write(
            "SECRET_KEY = 'collectd-rapl-test'\n"
            "ALLOWED_HOSTS = ['127.0.0.1', 'localhost']\n"
            "STORAGE_DIR = %r\n"
            "WHISPER_DIR = %r\n"
            "STANDARD_DIRS = [%r]\n"
            "LOG_DIR = %r\n"
            "INDEX_FILE = %r\n"
            "CARBONLINK_HOSTS = []\n"
            "USE_WORKER_POOL = False\n"
            "DEFAULT_XFILES_FACTOR = 0\n"
            "DATABASES = {'default': {'ENGINE': 'django.db.backends.sqlite3',"
            " 'NAME': %r}}\n"
            % (d, whisper_dir, whisper_dir, os.path.join(d, "log"),
               os.path.join(d, "index"), os.path.join(d, "graphite.db")))
    sys.path.insert(0, d)
    os.environ["GRAPHITE_SETTINGS_MODULE"] = "rapl_graphite_settings"
    os.environ["DJANGO_SETTINGS_MODULE"] = "graphite.settings"
    from graphite.wsgi import application  # noqa: E402  (after the settings)

    class Quiet(wsgiref.simple_server.WSGIRequestHandler):
        def log_message(self, fmt, *args):
            sys.stderr.write("graphite-web: " + (fmt % args) + "\n")

    srv = wsgiref.simple_server.make_server("127.0.0.1", port, application,
                                            handler_class=Quiet)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    print("graphite-web listening on 127.0.0.1:%d" % port, flush=True)
    srv.serve_forever()


if __name__ == "__main__":
    main()
