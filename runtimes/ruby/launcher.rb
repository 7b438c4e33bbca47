# Runs a Ruby action in OpenWhisk's action loop: `def main(params)` returning a Hash, as openwhisk-runtime-ruby.
# Loads the code once (src/exec for source text, src/main.rb for a zip), says {"ok": true} on fd 3 (or
# {"error": why} when the code cannot load), then reads one request per line on fd 4 (runtimes/ruby/launch) and
# writes each result as one line on fd 3. What the action prints is its log.
require 'json'

src = ARGV[0]
MAIN = (ARGV[1] || 'main').to_sym
results = IO.new(3, 'w')
results.sync = true
requests = IO.new(4, 'r')
$stdout.sync = true
$stderr.sync = true

refuse = lambda do |message|
  results.write("#{JSON.generate({ 'error' => message })}\n")
  exit 1
end

entry = File.file?(File.join(src, 'exec')) ? File.join(src, 'exec') : File.join(src, 'main.rb')
refuse.call('Ruby actions need main.rb at the top of their zip.') unless File.file?(entry)
$LOAD_PATH.unshift(src)
Dir.chdir(src)
begin
  load entry
rescue SystemExit
  raise
rescue Exception => e # rubocop:disable Lint/RescueException -- a syntax error is a ScriptError
  warn e.full_message(highlight: false)
  refuse.call("The action failed to load: #{e.message}")
end
unless Object.private_method_defined?(MAIN) || Object.method_defined?(MAIN)
  refuse.call("The action has no method named '#{MAIN}'.")
end

def answer(value)
  JSON.generate(value)
rescue StandardError => e
  JSON.generate({ 'error' => "The action's result cannot be written as JSON: #{e.message}" })
end

results.write("{\"ok\":true}\n")
requests.each_line do |line|
  request = JSON.parse(line)
  params = request.delete('value') || {}
  request.each { |key, value| ENV["__OW_#{key.upcase}"] = value.is_a?(String) ? value : JSON.generate(value) }
  begin
    result = send(MAIN, params)
  rescue SystemExit
    raise
  rescue Exception => e # rubocop:disable Lint/RescueException -- whatever the action raises is its error
    warn e.full_message(highlight: false)
    result = { 'error' => e.message }
  end
  results.write("#{answer(result)}\n")
end
