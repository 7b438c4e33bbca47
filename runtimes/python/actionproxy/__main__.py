"""``python3 -m actionproxy``: serve the action protocol on 0.0.0.0:8080."""

from actionproxy.server import main

if __name__ == "__main__":
    main()
