// The consumer ran (its main printed its line) and resolved one Jackson version. jackson-annotations is versioned
// without a patch number since Jackson 2.20 (2.22 beside 2.22.3), so it is left out of the comparison.
def log = new File(basedir, 'build.log').text
assert log.contains('CONSUMER OK:') : 'the consumer main did not finish'
def tree = new File(basedir, 'target/dependency-tree.txt').text
def versions = [] as Set
(tree =~ /com\.fasterxml\.jackson\.[a-z]+:(jackson-[a-z0-9-]+):jar:([^:]+):/).each { all, artifact, version ->
    if (artifact != 'jackson-annotations') versions << version
}
assert versions.size() == 1 : "Jackson versions resolved by a consumer: ${versions}"
println "consumer: Jackson ${versions}"
return true
