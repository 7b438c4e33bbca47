#!/bin/sh
# The executable this image runs until an action brings its own: it explains the convention.
echo "This image runs the executable 'exec' of an action's zip (or code with a shebang) for each activation."
echo "It gets the parameters as one JSON argument (and on stdin); it may log to stdout and stderr;"
echo "the last line it prints to stdout must be a JSON object or array: the result."
echo "argument length: ${#1}"
echo '{"error": "This is a stub action. Replace it with custom logic."}'
